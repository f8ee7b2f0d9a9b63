"""The calibration harness's canary model (benchmarks/verdict_calibration.py --canary), small."""

import importlib.util
import random
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "verdict_calibration.py"


def _harness():
    spec = importlib.util.spec_from_file_location("verdict_calibration", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(sys.modules[spec.name])
    module = sys.modules[spec.name]
    return module


def test_canary_model_keeps_false_pass_under_alpha_and_has_power_on_busy_routes():
    harness = _harness()
    rows = {r.scenario: r for r in harness.canary_rows(150, random.Random(5))}
    for row in rows.values():
        assert row.rate(row.h0, "PASS") <= 0.05, row.scenario
    assert rows["busy 30m full"].power > 0.95
    # a 10% canary of a trickle of traffic is too small to judge in 30 minutes: never a PASS
    assert rows["trickle 30m full"].rate(rows["trickle 30m full"].h1, "INCONCLUSIVE") > 0.9
    assert rows["trickle 90m full"].power > rows["trickle 30m full"].power
