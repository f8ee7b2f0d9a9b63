from reversal.logs.canary_window import judge, render_markdown, split_arms
from reversal.logs.model import LogRecord

ROUTE = "/api/webhooks/email"


def rec(rid, dpl, status=200, route=ROUTE, message=""):
    return LogRecord(ts_ms=1, route=route, status=status, request_id=rid, deployment_id=dpl, message=message)


def test_arms_count_requests_once_and_failing_requests_by_any_row():
    records = [rec("c1", "dpl_c"), rec("c1", "dpl_c"),  # two rows of one request
               rec("k1", "dpl_k", 504), rec("k1", "dpl_k", 504, message="Task timed out"),
               rec("k2", "dpl_k"), rec("k3", "dpl_k", 500, message="Task timed out after 60 seconds"),
               rec("x1", "dpl_old"), rec("p1", "dpl_c"), rec("o1", "dpl_c", 504, route="/other")]
    arms = split_arms(records, route=ROUTE, canary_id="dpl_c", control_id="dpl_k", exclude={"p1"},
                      is_target=lambda r: r.status == 504 or "timed out" in r.message, configured_share=10)
    assert (arms.canary.requests, arms.canary.failures) == (1, 0)
    assert (arms.control.requests, arms.control.failures) == (3, 2)
    assert arms.other_requests == 1 and arms.as_json()["configuredSharePercent"] == 10


def test_judged_over_the_same_minutes_with_the_realised_split():
    records = ([rec(f"k{i}", "dpl_k", 504 if i % 3 == 0 else 200) for i in range(270)]
               + [rec(f"c{i}", "dpl_c") for i in range(30)])
    arms = split_arms(records, route=ROUTE, canary_id="dpl_c", control_id="dpl_k",
                      is_target=lambda r: r.status == 504, configured_share=10)
    verdict = judge(arms, min_drop=0.8, alpha=0.05)
    assert verdict.verdict == "PASS" and abs(verdict.canary_share - 0.1) < 1e-9
    text = render_markdown("webhooks-email", ROUTE, arms, verdict)
    assert "| canary (flag on) | `dpl_c` | 30 | 0 |" in text and "**PASS**" in text
    small = split_arms(records[:100] + records[-5:], route=ROUTE, canary_id="dpl_c", control_id="dpl_k",
                       is_target=lambda r: r.status == 504, configured_share=10)
    assert judge(small, min_drop=0.8, alpha=0.05).verdict == "INCONCLUSIVE"
