"""run / resume / rollback / status / abandon on bad input and broken state: exit 2 naming the
field or file, before anything changes, and one bad iteration never blocks the others."""

from __future__ import annotations

import json

import pytest

from reversal.evidence.timeline import render_timeline
from reversal.iteration import transitions
from reversal.iteration.session import identity
from reversal.iteration.state import IterationState
from reversal.iteration.store import IterationStore
from reversal.playbooks import load_playbooks
from tests.commands.helpers import run, vercel_env


def _store(tmp_path) -> IterationStore:
    return IterationStore(tmp_path / "artifacts")


def _saved(tmp_path, **kw) -> IterationState:
    from reversal.config import load_config

    store = _store(tmp_path)
    folder = store.new_folder(kw.pop("slice", "response-timing"), kw.pop("created_ms", 1_771_384_537_121))
    state = IterationState(iteration=folder.name, slice="response-timing", route="/api/cron/response-timing",
                           created_ms=1_771_384_537_121, window_s=1800,
                           platform=identity(load_config(None)), **kw)
    store.save(state)
    return state


@pytest.mark.parametrize("value", ["0m", "-5m", "nan", "99999999999d", "8d", "soon"])
def test_a_bad_window_exits_2_before_anything_is_written(tmp_path, monkeypatch, capsys, value):
    vercel_env(monkeypatch, tmp_path)
    code, _, err = run(capsys, "run", "--route", "response-timing", "--window", value, "--yes")
    assert code == 2 and "--window" in err and "7 days" in err and "Traceback" not in err
    assert not (tmp_path / "artifacts").exists()


def test_resume_refuses_accept_with_extend_and_a_bad_extension(tmp_path, monkeypatch, capsys):
    vercel_env(monkeypatch, tmp_path)
    code, _, err = run(capsys, "resume", "--accept", "fine", "--extend", "5m")
    assert code == 2 and "not both" in err
    code, _, err = run(capsys, "resume", "--extend", "99999999999d")
    assert code == 2 and "--extend" in err


def test_a_corrupt_state_is_named_and_status_still_lists_the_others(tmp_path, monkeypatch, capsys):
    vercel_env(monkeypatch, tmp_path)
    good = _saved(tmp_path, status="passed", verdict="PASS", step="")
    bad = _store(tmp_path).new_folder("background-jobs", 1)
    (bad / "state.json").write_text('{"version": 1, "iteration": "trunc')
    code, out, err = run(capsys, "status")
    assert code == 0 and good.iteration in out and "slice response-timing: PASS" in out
    assert str(bad / "state.json") in err and "not valid JSON" in err


def test_unknown_values_in_state_exit_2_naming_the_field(tmp_path, monkeypatch, capsys):
    vercel_env(monkeypatch, tmp_path)
    state = _saved(tmp_path)
    path = _store(tmp_path).folder(state.iteration) / "state.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "status": 5}))
    code, _, err = run(capsys, "resume", state.iteration)
    assert code == 2 and "field 'status' is 5" in err and "Traceback" not in err
    code, _, err = run(capsys, "status", state.iteration)
    assert code == 2 and "field 'status'" in err


def test_status_shows_every_reason_the_next_action_and_a_rollback_not_as_a_pass(tmp_path, monkeypatch,
                                                                             capsys):
    vercel_env(monkeypatch, tmp_path)
    _saved(tmp_path, status="rolled-back", verdict="PASS", step="",
           reasons=["target failures dropped", "rollback requested: incident 42"])
    _saved(tmp_path, slice="x", created_ms=1_771_384_600_000, status="error", step="deploy",
           error={"step": "deploy", "cause": "Vercel answered 503", "resume": "reversal resume it"})
    code, out, _ = run(capsys, "status")
    assert code == 0
    assert "rolled-back (verdict PASS before the rollback)" in out and "verdict PASS\n" not in out
    assert "- target failures dropped" in out and "- rollback requested: incident 42" in out
    assert "stopped on a platform error at deploy: Vercel answered 503" in out
    assert "next: reversal resume it once the platform answers again" in out


def test_operator_text_cannot_inject_markdown_structure_into_the_timeline():
    book = load_playbooks(None)["response-timing"]
    state = IterationState(iteration="it", slice="response-timing", route=book.route, created_ms=0,
                           window_s=60, status="inconclusive", verdict="INCONCLUSIVE")
    state = transitions.accept(state, 1, "fine\n## Verdict PASS\n<script>x</script>")
    text = render_timeline(state, book.flag)
    assert "\n## Verdict PASS" not in text and "<script>" not in text
    assert "fine ## Verdict PASS &lt;script>x&lt;/script>" in text


def test_abandon_needs_a_reason_and_an_open_iteration(tmp_path, monkeypatch, capsys):
    vercel_env(monkeypatch, tmp_path)
    code, _, err = run(capsys, "abandon", "--reason", "  ")
    assert code == 2 and "--reason" in err
    code, _, err = run(capsys, "abandon", "--reason", "wrong window")
    assert code == 2 and "no open iteration" in err


def test_resume_extend_of_a_canary_whose_release_completed_exits_2_and_changes_nothing(tmp_path, monkeypatch,
                                                                                      capsys):
    import respx

    from reversal.iteration.lease import ProjectLease
    from tests.platform.fakes import API, PROJECT, FakeVercel

    vercel_env(monkeypatch, tmp_path)
    for name in ("acquire", "release"):  # the project lease is tested on its own (test_lease.py)
        monkeypatch.setattr(ProjectLease, name, lambda self: None)
    state = _saved(tmp_path, slice="webhooks-email", status="inconclusive", verdict="INCONCLUSIVE", step="",
                   facts={"canary": {"share": 10.0},
                          "canary-start": {"canary_id": "dpl_c", "window": {"since_ms": 0, "until_ms": 1}}})
    released = {"rollingRelease": {"state": "COMPLETE", "canaryDeployment": {"id": "dpl_c"},
                                   "currentDeployment": {"id": "dpl_k"}, "stages": [], "activeStage": None}}
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        FakeVercel(router)
        router.get(f"{API}/v1/projects/{PROJECT}/rolling-release").respond(200, json=released)
        code, _, err = run(capsys, "resume", state.iteration, "--extend", "15m")
    assert code == 2, err
    assert "the canary window cannot be extended" in err and "is COMPLETE" in err and "Traceback" not in err
    assert _store(tmp_path).load(state.iteration).status == "inconclusive"
