import pytest
import respx

from reversal.errors import StepFailed
from reversal.platform.deploy import (
    PROMOTE_GRACE_S,
    DeployFailed,
    current_production,
    find_production,
    redeploy,
    wait_ready,
)
from tests.platform.fakes import FakeClock, FakeVercel, make_client


@pytest.fixture
def fake():
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield FakeVercel(router)


def test_current_production_is_newest_ready(fake):
    fake.add_deployment(created=1000)
    newest = fake.add_deployment(created=2000)
    fake.add_deployment(created=3000, state="BUILDING")
    fake.add_deployment(created=4000, target=None)  # preview
    assert current_production(make_client()).id == newest


def test_no_production_deployment_is_a_clear_failure(fake):
    with pytest.raises(StepFailed, match="no READY production deployment"):
        current_production(make_client())


def test_redeploy_polls_to_ready_and_records_states(fake):
    source = current_production_id = fake.add_deployment()
    clock = FakeClock()
    seen = []
    client = make_client()
    record = redeploy(client, source=client.get_deployment(source), clock=clock, intent_id="it-1",
                      poll_s=5, on_state=lambda state, elapsed: seen.append((state, elapsed)))
    assert record.final_state == "READY" and record.source_id == current_production_id
    assert [s for s, _ in record.states] == ["QUEUED", "BUILDING", "READY"]
    assert seen == [("QUEUED", 0.0), ("BUILDING", 5.0), ("READY", 10.0)]
    assert record.ready_ms is not None and record.id in fake.deployments
    assert fake.deployments[record.id]["meta"] == {"reversalIntent": "it-1"}


def test_redeploy_ending_in_error_raises_with_record(fake):
    fake.deploy_states = ("QUEUED", "BUILDING", "ERROR")
    source = fake.add_deployment()
    client = make_client()
    with pytest.raises(DeployFailed, match=r"ended ERROR.*QUEUED -> BUILDING -> ERROR") as info:
        redeploy(client, source=client.get_deployment(source), clock=FakeClock(), intent_id="it-2")
    assert info.value.record.final_state == "ERROR" and info.value.exit_code == 1


def test_deadline_stops_waiting(fake):
    fake.deploy_states = ("BUILDING",)
    source = fake.add_deployment()
    client = make_client()
    clock = FakeClock()
    with pytest.raises(DeployFailed, match="still BUILDING") as info:
        redeploy(client, source=client.get_deployment(source), clock=clock, intent_id="i",
                 deadline_s=30, poll_s=10)
    assert info.value.record.timed_out and sum(clock.slept) <= 30


def test_wait_ready_on_an_existing_deployment(fake):
    dep = fake.add_deployment()
    record = wait_ready(make_client(), dep, clock=FakeClock(), deadline_s=10, poll_s=1)
    assert record.final_state == "READY" and record.states[0][0] == "READY"


# -- the live production deployment, as Vercel defines it -------------------------------------------


@pytest.mark.parametrize("endpoint", ["v9", "cli"])
def test_current_production_is_the_projects_production_deployment_after_a_rollback(fake, endpoint):
    fake.project_endpoint = endpoint
    live = fake.add_deployment(created=1000, substate="PROMOTED", live=True)  # rolled back to this one
    fake.add_deployment(created=2000, substate="PROMOTED")  # newer, READY, not serving any more
    production, how = find_production(make_client())
    assert production.id == live and how == "project production deployment"


def test_staged_build_is_not_production_when_the_project_names_none(fake):
    fake.project_endpoint = "none"
    serving = fake.add_deployment(created=1000, substate="PROMOTED")
    fake.add_deployment(created=2000, substate="STAGED")  # newer READY build, never served production
    assert current_production(make_client()).id == serving


def test_redeploy_waits_until_the_new_deployment_serves_production(fake):
    fake.new_substate = "STAGED"
    source = fake.add_deployment(substate="PROMOTED", live=True)
    client = make_client()
    labels = []

    def promote_when_staged(label, elapsed):  # e.g. a rolling release finishing, or a promote
        labels.append(label)
        if label == "READY/STAGED":
            new = next(d for d in fake.deployments if d != source)
            fake.deployments[new]["readySubstate"] = "PROMOTED"
            fake.production_id = new

    record = redeploy(client, source=client.get_deployment(source), clock=FakeClock(), intent_id="i",
                      poll_s=5, on_state=promote_when_staged)
    assert labels == ["QUEUED", "BUILDING", "READY/STAGED", "READY"]
    assert record.serving and record.ready_substate == "PROMOTED"
    assert record.as_json()["readySubstate"] == "PROMOTED" and record.as_json()["servingProduction"]


def test_ready_but_staged_stops_after_the_grace_naming_the_fix(fake):
    fake.new_substate = "STAGED"
    source = fake.add_deployment(substate="PROMOTED", live=True)
    client = make_client()
    clock = FakeClock()
    with pytest.raises(DeployFailed, match=r"READY but not serving production .*readySubstate STAGED.*"
                                           r"vercel promote dpl_") as info:
        redeploy(client, source=client.get_deployment(source), clock=clock, intent_id="i", poll_s=10)
    record = info.value.record
    assert record.ready_substate == "STAGED" and not record.serving and fake.production_id == source
    assert sum(clock.slept) <= PROMOTE_GRACE_S + 30  # not the 15-minute deadline


def test_blocked_is_terminal_at_once(fake):
    fake.deploy_states = ("QUEUED", "BLOCKED")
    source = fake.add_deployment(substate="PROMOTED", live=True)
    client = make_client()
    clock = FakeClock()
    with pytest.raises(DeployFailed, match=r"ended BLOCKED after 5s.*QUEUED -> BLOCKED") as info:
        redeploy(client, source=client.get_deployment(source), clock=clock, intent_id="i", poll_s=5)
    assert info.value.record.final_state == "BLOCKED" and clock.slept == [5]


def test_no_substate_falls_back_to_the_projects_pointer(fake):
    fake.new_substate = None  # an API without readySubstate
    source = fake.add_deployment(live=True)
    client = make_client()
    clock = FakeClock()
    with pytest.raises(DeployFailed, match="readySubstate unknown"):
        redeploy(client, source=client.get_deployment(source), clock=clock, intent_id="i", poll_s=30)
    fake.project_endpoint = "none"  # nothing names production: READY is all there is to know
    record = redeploy(client, source=client.get_deployment(source), clock=FakeClock(), intent_id="j")
    assert record.serving and record.ready_substate is None
