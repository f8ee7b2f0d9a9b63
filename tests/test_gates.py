import re
import subprocess
from pathlib import Path

import pytest

from reversal.errors import InputError
from reversal.gates import (
    OUTPUT_CAP_BYTES,
    Gate,
    app_commit,
    merge_gates,
    parse_gates,
    plan_gates,
    run_gate,
    run_process,
    tail,
    unknown_skips,
)


def test_parse_gates_reads_every_field_and_defaults():
    gates = parse_gates([{"name": "lint", "run": "npm run lint"},
                         {"name": "replay", "run": "npm run replay", "cwd": "app", "timeout": "20m",
                          "env": {"CI": 1}}], "reversal.yaml")
    assert gates[0] == Gate("lint", "npm run lint")
    assert gates[1].timeout_s == 1200 and gates[1].cwd == "app" and gates[1].env == {"CI": "1"}


@pytest.mark.parametrize(("raw", "field"), [
    ({"name": "lint"}, "gates[0].run"),
    ({"name": "a b", "run": "x"}, "gates[0].name"),
    ({"name": "lint", "run": "x", "timeout": "-5m"}, "gates[0].timeout"),
    ({"name": "lint", "run": "x", "timeout": "soon"}, "gates[0].timeout"),
    ({"name": "lint", "run": "x", "env": ["A=1"]}, "gates[0].env"),
    ({"name": "lint", "run": "x", "cmd": "y"}, "unknown field(s) cmd"),
])
def test_parse_gates_names_the_bad_field(raw, field):
    with pytest.raises(InputError, match=re.escape(field)):
        parse_gates([raw], "reversal.yaml")


def test_parse_gates_refuses_a_name_twice_and_a_non_list():
    with pytest.raises(InputError, match="listed twice"):
        parse_gates([{"name": "a", "run": "x"}, {"name": "a", "run": "y"}], "p.yaml")
    with pytest.raises(InputError, match="must be a list"):
        parse_gates({"name": "a"}, "p.yaml")


def test_slice_gate_replaces_project_gate_of_the_same_name_and_adds_its_own():
    project = parse_gates([{"name": "lint", "run": "a"}, {"name": "test", "run": "b"}], "r")
    own = parse_gates([{"name": "test", "run": "c"}, {"name": "replay", "run": "d"}], "p")
    assert [(g.name, g.run) for g in merge_gates(project, own)] == [
        ("lint", "a"), ("test", "c"), ("replay", "d")]


def test_plan_reruns_unless_passed_for_the_same_known_commit():
    gates = parse_gates([{"name": "lint", "run": "a"}, {"name": "build", "run": "b"},
                         {"name": "test", "run": "c"}], "r")
    plan = plan_gates(gates, {"lint": "abc123", "build": "old999"}, "abc123", {"test": "CI is down"})
    assert [(d.gate.name, d.action) for d in plan] == [
        ("lint", "skip-passed"), ("build", "run"), ("test", "skip-break-glass")]
    assert "CI is down" in plan[2].reason
    # an unknown (dirty) commit never reuses a result
    assert [d.action for d in plan_gates(gates, {"lint": "abc123"}, None, {})] == ["run"] * 3
    assert unknown_skips(gates, {"lnt": "typo"}) == ["lnt"]


def test_tail_keeps_the_end_cut_at_a_line():
    data = b"".join(f"line {i}\n".encode() for i in range(20000))
    kept = tail(data)
    assert len(kept.encode()) <= OUTPUT_CAP_BYTES and kept.startswith("line ")
    assert kept.endswith("line 19999\n")
    assert tail(b"short") == "short"


def test_run_gate_records_exit_code_redacted_tail_and_duration(tmp_path):
    gate = Gate("test", "echo token=S3CRETVALUE; echo 3 failed >&2; exit 3", env={"X": "1"})
    ticks = iter([10.0, 12.5])
    result = run_gate(gate, tmp_path, "abc", lambda t: t.replace("S3CRETVALUE", "[REDACTED]"),
                      monotonic=lambda: next(ticks))
    assert result.exit_code == 3 and not result.passed
    assert result.duration_s == 2.5
    assert "S3CRETVALUE" not in result.output_tail and "[REDACTED]" in result.output_tail
    assert result.last_lines[-1] == "3 failed"
    assert result.as_json()["commit"] == "abc"


def test_run_gate_passes_env_and_cwd(tmp_path):
    (tmp_path / "app").mkdir()
    result = run_gate(Gate("env", 'test "$GATE_X" = yes && pwd', cwd="app", env={"GATE_X": "yes"}),
                      tmp_path, None, str)
    assert result.passed and result.output_tail.strip().endswith("/app")


def test_run_gate_refuses_a_missing_cwd(tmp_path):
    with pytest.raises(InputError, match="cwd"):
        run_gate(Gate("x", "true", cwd="nope"), tmp_path, None, str)


def test_timeout_kills_the_whole_process_group(tmp_path):
    marker = tmp_path / "survived"
    code, output = run_process(["/bin/sh", "-c", f"(sleep 2; touch {marker}) & sleep 30"], tmp_path,
                               {"PATH": "/usr/bin:/bin"}, 0.5)
    assert code is None and b"killed after" in output
    subprocess.run(["sleep", "2.5"])
    assert not marker.exists()


def test_app_commit_is_head_of_a_clean_checkout_only(tmp_path):
    assert app_commit(tmp_path) is None
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@e"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "f").write_text("x")
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert app_commit(Path(tmp_path)) == head
    (tmp_path / "f").write_text("changed")
    assert app_commit(tmp_path) is None


def test_gates_in_reversal_yaml_are_parsed_and_checked(tmp_path):
    from reversal.config import load_config

    (tmp_path / "reversal.yaml").write_text("gates:\n  - {name: lint, run: npm run lint, timeout: 5m}\n")
    [gate] = load_config(environ={}, cwd=tmp_path).gates
    assert (gate.name, gate.run, gate.timeout_s) == ("lint", "npm run lint", 300.0)
    (tmp_path / "reversal.yaml").write_text("gates:\n  - {name: lint}\n")
    with pytest.raises(InputError, match=r"reversal\.yaml: gates\[0\]\.run"):
        load_config(environ={}, cwd=tmp_path)
    (tmp_path / "reversal.yaml").write_text("gates: npm test\n")
    with pytest.raises(InputError, match="field 'gates' must be a list"):
        load_config(environ={}, cwd=tmp_path)


def test_a_playbook_declares_its_gates_and_a_cron_break_glass_reason():
    import yaml

    from reversal.playbooks import BUILTIN_DIR, parse_playbook

    doc = yaml.safe_load((BUILTIN_DIR / "response-timing.yaml").read_text())
    plain = parse_playbook(doc, "x.yaml")
    assert plain.gates == () and plain.break_glass_cron_change is None
    book = parse_playbook({**doc, "gates": [{"name": "replay", "run": "npm run replay"}],
                           "break_glass_cron_change": " moving the schedule to Inngest "}, "x.yaml")
    assert [g.name for g in book.gates] == ["replay"]
    assert book.break_glass_cron_change == "moving the schedule to Inngest"
    with pytest.raises(InputError, match=r"x\.yaml: field 'break_glass_cron_change'"):
        parse_playbook({**doc, "break_glass_cron_change": True}, "x.yaml")
    with pytest.raises(InputError, match=r"x\.yaml: gates\[0\]: unknown field"):
        parse_playbook({**doc, "gates": [{"name": "a", "run": "true", "shell": "bash"}]}, "x.yaml")


def test_init_scaffolds_commented_gate_examples_that_parse_once_uncommented(tmp_path):
    import re

    from reversal.commands.init import init
    from reversal.config import load_config

    init(tmp_path, force=False)
    text = (tmp_path / "reversal.yaml").read_text()
    assert load_config(environ={}, cwd=tmp_path).gates == ()  # commented out by default
    uncommented = re.sub(r"^# (gates:|  [- ] )", r"\1", text, flags=re.M)
    (tmp_path / "reversal.yaml").write_text(uncommented)
    gates = load_config(environ={}, cwd=tmp_path).gates
    assert [g.name for g in gates] == ["lint", "build", "test", "replay"]
    assert gates[3].env == {"JUDGE_PROMPT_KEY": "replay-v3"}


def test_next_eligible_follows_playbook_order_and_after():
    from reversal.commands.run import next_eligible
    from reversal.playbooks import load_playbooks, order

    books = load_playbooks(None)
    p0 = [s for s in order(books) if books[s].priority == "P0"]
    assert next_eligible(books, set()) == p0[0]
    assert next_eligible(books, set(p0[:2])) == p0[2]
    after_p0 = next_eligible(books, set(p0))
    assert books[after_p0].priority == "P1" and set(books[after_p0].after) <= set(p0)
    assert next_eligible(books, set(books)) is None


def test_skip_gate_needs_a_reason_and_a_known_gate(tmp_path):
    from reversal.commands.run import _skips
    from reversal.config import load_config
    from reversal.playbooks import load_playbooks

    (tmp_path / "reversal.yaml").write_text("gates:\n  - {name: lint, run: npm run lint}\n")
    config, books = load_config(environ={}, cwd=tmp_path), load_playbooks(None)
    assert _skips(("lint",), " incident 42 ", books, config) == {"lint": "incident 42"}
    assert _skips((), None, books, config) == {}
    with pytest.raises(InputError, match="needs --reason"):
        _skips(("lint",), None, books, config)
    with pytest.raises(InputError, match=r"--skip-gate replay: no such gate; the gates are lint"):
        _skips(("replay",), "x", books, config)
    with pytest.raises(InputError, match="give the gate to skip"):
        _skips((), "why", books, config)
