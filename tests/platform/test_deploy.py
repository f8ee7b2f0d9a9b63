import pytest
import respx

from reversal.errors import StepFailed
from reversal.platform.deploy import DeployFailed, current_production, redeploy, wait_ready
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
