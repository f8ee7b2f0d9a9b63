"""The one durable assessment: pure, structured, the same for the loop and 'durable check'."""

from __future__ import annotations

from reversal.platform.durable import RunOutcome, RunRow, assess


def _row(status: str, error: str | None = None) -> RunRow:
    return RunRow("cron-response-timing", status, "k1", "run_1", "rk", 1, None, None, None, None, None, error)


def _health(stuck=(), invalid=0) -> dict:
    return {"backgroundFunctionRun": {"stuckRunning": [{"functionName": f} for f in stuck],
                                      "invalidSignatureFailuresLast24h": invalid}}


def test_a_healthy_snapshot_has_no_problems():
    outcome = RunOutcome("succeeded", "cron-response-timing", "k1", (_row("SUCCEEDED"),), 2.0, 2)
    result = assess(outcome=outcome, health=_health(), queue={"failedDue": 0}, growth={"growing": False},
                    function="cron-response-timing", queue_name="WebhookEvent")
    assert result.ok and result.run == "succeeded" and result.to_json()["problems"] == []


def test_every_finding_is_a_field_and_a_sentence():
    outcome = RunOutcome("failed", "cron-response-timing", "k1", (_row("FAILED", "Invalid signature"),), 5, 3)
    result = assess(
        outcome=outcome, health=_health(stuck=("cron-response-timing", "other-fn"), invalid=2),
        queue={"failedDue": 7},
        growth={"growing": True, "pendingDueBefore": 1, "pendingDueAfter": 9, "intervalSeconds": 60},
        function="cron-response-timing", queue_name="WebhookEvent",
        inngest={"invalidSignatureFailures": 3},
    )
    assert (result.run, result.stuck_running, result.failed_due, result.queue_growing,
            result.invalid_signature) == ("failed", 1, 7, True, 5)
    text = " | ".join(result.problems)
    assert "FAILED: Invalid signature" in text and "1 cron-response-timing run(s) stuck RUNNING" in text
    assert "WebhookEvent has 7 FAILED rows due" in text and "grew 1 → 9" in text
    assert "2 ledger run(s) FAILED with 'Invalid signature'" in text and "3 Inngest function runs" in text


def test_queue_findings_apply_only_to_slices_with_a_queue():
    result = assess(outcome=None, health=None, queue={"failedDue": 7}, growth={"growing": True},
                    function=None, queue_name=None)
    assert result.ok and result.failed_due == 0 and not result.queue_growing


def test_the_loop_counts_only_failed_rows_added_while_it_judged_the_change():
    backlog = {"failedDue": 7}
    kept = assess(outcome=None, health=None, queue=backlog, growth=None, function=None,
                  queue_name="WebhookEvent", failed_due_before=7)
    assert kept.ok and kept.failed_due == 7
    rose = assess(outcome=None, health=None, queue={"failedDue": 9}, growth=None, function=None,
                  queue_name="WebhookEvent", failed_due_before=7)
    assert rose.problems == ("WebhookEvent FAILED rows due rose from 7 to 9",)
