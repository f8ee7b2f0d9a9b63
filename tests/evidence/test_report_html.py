"""report.html and index.html of real packets, rendered in headless Chromium.

One session fixture runs the sandbox loop twice in one project (an offload that does not help:
FAIL and automatic rollback; then a PASS), so the pages show every section. Chromium must be
installed (Debian's ``chromium``; ``.ci/run`` installs it): a missing browser fails the tests.
Screenshots are kept under ``test-output/`` at the repository root (ignored by git).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reversal.evidence.files import utc_iso
from reversal.iteration.store import verify_manifest
from tests.e2e.conftest import FAST, cli, iteration_dirs, state_of

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: apt-get install -y chromium (.ci/run does it); "
                    "the HTML report tests need a real browser and never skip.")
    return found


def headless(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0", *args, page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )


def console_messages(stderr: str) -> list[str]:
    """What the page wrote to its console (Chromium logs it as ``...:CONSOLE:<line>] ...``).
    The pages have no script, so any message is a problem (a parse or resource error)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def render(page: Path, shot: Path) -> str:
    """The page's DOM after load, a screenshot at ``shot``; fails on any console message."""
    dom = headless(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    shot.parent.mkdir(parents=True, exist_ok=True)
    pic = headless(page, f"--screenshot={shot}", "--window-size=1280,2400")
    assert pic.returncode == 0 and shot.is_file() and shot.stat().st_size > 10_000, pic.stderr[-2000:]
    assert console_messages(dom.stderr + pic.stderr) == []
    return dom.stdout


class Refs(HTMLParser):
    """Every URL the page refers to, by tag and attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.text: list[str] = []

    def handle_data(self, data):
        self.text.append(data)

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "action") and value is not None:
                self.refs.append((tag, name, value))


def refs_of(html: str) -> list[tuple[str, str, str]]:
    parser = Refs()
    parser.feed(html)
    return parser.refs


def text_of(html: str) -> str:
    """The page's text, entities decoded."""
    parser = Refs()
    parser.feed(html)
    return "".join(parser.text)


@pytest.fixture(scope="session")
def campaign(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("campaign")
    failed = cli(["run", "--route", "response-timing", "--sandbox", "--yes", *FAST,
                  "--sandbox-knob", "offload_does_not_help=response-timing"], root)
    assert failed.returncode == 1, failed.stderr
    passed = cli(["run", "--route", "response-timing", "--sandbox", "--yes", *FAST], root)
    assert passed.returncode == 0, passed.stderr
    return root


def test_the_console_check_catches_a_page_that_logs(tmp_path):
    page = tmp_path / "noisy.html"
    page.write_text('<html><body><script>console.error("boom")</script></body></html>')
    assert any("boom" in line for line in console_messages(headless(page, "--dump-dom").stderr))


def test_every_packet_has_a_self_contained_report_with_charts(campaign, capsys):
    by_status = {state_of(f)["status"]: f for f in iteration_dirs(campaign)}
    rolled_back, passed = by_status["rolled-back"], by_status["passed"]
    for folder, name in ((rolled_back, "report-rolled-back.png"), (passed, "report-pass.png")):
        page = folder / "report.html"
        html = page.read_text()
        assert verify_manifest(folder) == []  # the derived page is not in the manifest
        dom = render(page, OUTPUT / name)
        with capsys.disabled():
            print(f"\nscreenshot: {OUTPUT / name}")
        assert "<script" not in html and "<link" not in html and "url(" not in html
        for tag, attr, url in refs_of(html):
            if url.startswith("https://vercel.com/"):
                assert (tag, attr) == ("a", "href")  # dashboard links are links, never loads
            elif not url.startswith("#"):
                assert (folder / url).is_file() or url == "../index.html", url
        charts = re.findall(r'<svg[^>]*class="chart"', dom)
        assert len(charts) == 3  # the target and its two barometers
        state, text = state_of(folder), text_of(dom)
        for reason in state["reasons"]:
            assert reason in text
        assert state["verdict"] in dom and "simulated" in dom
        assert 'id="all-deltas"' in dom and "<details" in dom
        for e in state["events"]:
            assert e["step"] in dom
        manifest = (folder / "manifest.json").read_text()
        for digest in re.findall(r'"([0-9a-f]{64})"', manifest):
            assert digest in dom
    timeline = (rolled_back / "timeline.md").read_text()
    assert "- Run by: " in timeline and ", reversal " in timeline and "- Platform: project `prj_" in timeline
    assert "- Deployed commit: `9f3c2a1e" in timeline
    assert "- Clock: times below are UTC, simulated: sandbox clock x600" in timeline
    assert "- Rollback reason: verdict FAIL" in timeline and "- [rollback-check] " in timeline
    log = [json.loads(line) for line in (rolled_back / "run.log").read_text().splitlines()]
    assert {line["clock"] for line in log} == {"simulated x600"}
    # A 30-minute window passes in seconds at x600: run.log is on that clock, far ahead of real time.
    assert log[-1]["timestamp"] > utc_iso(int(time.time() * 1000) + 20 * 60_000)
    rb = (rolled_back / "report.html").read_text()
    assert 'class="series series-rollback"' in rb and 'id="rollback-check"' in rb
    assert "https://vercel.com/team_" in rb  # each deployment links to its dashboard page
    assert "9f3c2a1e5b7d" in rb  # the deployed commit from the deployment's meta


def test_index_lists_slices_in_playbook_order_with_links(campaign, capsys):
    index = campaign / "artifacts" / "index.html"
    dom = render(index, OUTPUT / "index.png")
    with capsys.disabled():
        print(f"\nscreenshot: {OUTPUT / 'index.png'}")
    from reversal.playbooks import load_playbooks, order

    slices = re.findall(r'data-slice="([^"]+)"', dom)
    assert slices == order(load_playbooks(None))
    links = [url for _, _, url in refs_of(index.read_text()) if url.endswith("report.html")]
    assert sorted(links) == sorted(f"{p.name}/report.html" for p in iteration_dirs(campaign))
    assert "rolled-back" in dom and "PASS" in dom


def test_report_command_renders_again_and_opens_it(campaign):
    folder = iteration_dirs(campaign)[-1]
    (folder / "report.html").unlink()
    # BROWSER names the command webbrowser runs: `true` stands in for a browser that opened it.
    result = cli(["report", folder.name, "--open", "--json"], campaign, env={"BROWSER": "true"})
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert Path(doc["page"]).resolve() == (folder / "report.html").resolve() and doc["opened"]
    assert (folder / "report.html").is_file()
    index = cli(["report"], campaign)
    assert index.returncode == 0 and index.stdout.strip().endswith("index.html")


def test_open_without_a_browser_says_so(monkeypatch, tmp_path):
    import webbrowser

    from reversal.commands.report import open_in_browser

    def no_browser():
        raise webbrowser.Error("could not locate runnable browser")

    monkeypatch.setattr(webbrowser, "get", no_browser)
    assert "no browser available" in open_in_browser(tmp_path / "report.html")
