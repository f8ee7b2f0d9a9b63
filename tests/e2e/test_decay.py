"""The hard case end to end: an incident that ends on its own on every route while the slice
is flipped (sandbox ``traffic_model=decay``). Only a drop beyond the control routes may PASS."""

from __future__ import annotations

import json

from tests.e2e.conftest import FAST, cli, iteration_dirs

DECAY = ("--sandbox-knob", "traffic_model=decay")


def _compare(tmp_path) -> dict:
    [folder] = iteration_dirs(tmp_path)
    return json.loads(next(folder.glob("compare-*.json")).read_text())


def test_offload_that_does_not_help_during_a_decaying_incident_does_not_pass(tmp_path):
    result = cli(["run", "--route", "response-timing", "--sandbox", "--yes", "--json", *FAST, *DECAY,
                  "--sandbox-knob", "offload_does_not_help=response-timing"], tmp_path)
    assert result.returncode in (1, 3), result.stderr
    summary = json.loads(result.stdout)
    assert summary["verdict"] in ("FAIL", "INCONCLUSIVE")
    compare = _compare(tmp_path)
    assert compare["verdict"] != "PASS"
    controls = compare["controls"]
    assert controls["usable"] and controls["drop"] > 0.3  # the controls fell too: the incident ended
    bad = {r["code"] for r in compare["reasons"] if r["outcome"] in ("fail", "inconclusive")}
    assert bad & {"drop_below_min", "shared_drop", "not_beyond_controls"}


def test_real_offload_during_a_decaying_incident_passes_beyond_the_controls(tmp_path):
    result = cli(["run", "--route", "response-timing", "--sandbox", "--yes", "--json", *FAST, *DECAY],
                 tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["verdict"] == "PASS"
    compare = _compare(tmp_path)
    controls = compare["controls"]
    assert controls["drop"] > 0.3  # the incident ended everywhere ...
    assert controls["adjusted_drop"] >= 0.8 and controls["p_value"] <= 0.05  # ... the target beyond it
    assert {r["code"] for r in compare["reasons"]} >= {"beyond_controls", "no_pre_trend", "significant"}
    assert {c["route"] for c in controls["routes"]} >= {"/api/cron/followups", "/api/inbox/conversations"}
