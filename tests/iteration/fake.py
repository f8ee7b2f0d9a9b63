"""A fake platform that drives ``drive()`` through every branch in memory.

Faults are keyed by the step that is running (the fake UI sees each step start) and fire once:
``gate`` (a finding that fails the gate), ``error`` (the platform did not answer), ``crash_before``
and ``crash_after`` (the process dies before or after the step's side effect). ``Crash`` is a
``BaseException`` so nothing in the machine catches it, as nothing survives a SIGKILL.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reversal.gates import Gate, GateResult
from reversal.iteration import machine
from reversal.iteration.ports import (
    Captured,
    Deployed,
    DurableHealth,
    FlagWritten,
    PlatformError,
    Probed,
    Production,
    RollbackRefused,
)
from reversal.iteration.state import IterationState
from reversal.iteration.store import IterationStore
from reversal.logs.signatures import build_catalogue
from reversal.playbooks import load_playbooks

KINDS = ("gate", "error", "crash_before", "crash_after")
SLICE = "response-timing"
SECRET_VALUE = "s" * 32


class Crash(BaseException):
    """The process died here."""


class FakeClock:
    def __init__(self) -> None:
        self.ms = 1_771_384_537_121

    def now_ms(self) -> int:
        return self.ms

    def sleep(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


@dataclass
class Faults:
    pending: dict[str, str] = field(default_factory=dict)  # step -> kind, fires once
    fired: list[tuple[str, str]] = field(default_factory=list)
    always_gate: frozenset[str] = frozenset()  # steps whose every look fails the gate
    step: str = ""

    def take(self, kinds: tuple[str, ...]) -> str | None:
        if "gate" in kinds and self.step in self.always_gate:
            return "gate"
        kind = self.pending.get(self.step)
        if kind in kinds:
            del self.pending[self.step]
            self.fired.append((self.step, kind))
            return kind
        return None


class FakeUI:
    """Tracks the running step; a step without platform calls crashes here."""

    quiet = True

    def __init__(self, faults: Faults, passive: frozenset[str]) -> None:
        self.faults, self.passive = faults, passive

    def say(self, message: str, **_: Any) -> None:
        pass

    def step(self, name: str, message: str) -> None:
        if message == "starting":
            self.faults.step = name
            if name in self.passive and self.faults.take(("crash_before",)):
                raise Crash(name)
        elif name in self.passive and name == self.faults.step and self.faults.take(("crash_after",)):
            raise Crash(name)  # the step's state is saved; the process dies right after

    def wait_until(self, label: str, until_ms: int, clock: FakeClock, **_: Any) -> None:
        clock.ms = max(clock.ms, until_ms)


@dataclass
class World:
    """What the platform holds: the flag, deployments by intent, writes made."""

    flag: str = "false"
    flag_writes: list[str] = field(default_factory=list)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {intent, state}
    captures: list[tuple[str, str | None]] = field(default_factory=list)  # (source, attached file)
    rollback_candidate: bool | None = True  # what the deployments list says of the known-good one
    refuse_instant: bool = False  # Vercel answers an Instant Rollback with a 4xx "not possible"
    serving: str | None = None  # set by an Instant Rollback until the next deployment
    rollbacks: list[str] = field(default_factory=list)  # Instant Rollbacks made (target ids)
    release: dict[str, Any] | None = None  # the project's rolling release (canary mode)
    traffic: Any = None  # (since_ms, until_ms, release) -> export rows a capture holds besides the probes
    probe_rows: list[dict[str, Any]] = field(default_factory=list)  # the loop's liveness requests


class FakePlatform:
    def __init__(self, world: World, faults: Faults, clock: FakeClock) -> None:
        self.world, self.faults, self.clock = world, faults, clock

    def _effect(self, gate_ok: bool = True) -> str | None:
        """Before a side effect: raise an error or a crash, or report a gate fault."""
        kind = self.faults.take(("error", "crash_before") + (("gate",) if gate_ok else ()))
        if kind == "error":
            raise PlatformError(f"{self.faults.step}: Vercel answered 503 five times")
        if kind == "crash_before":
            raise Crash(self.faults.step)
        return kind

    def _after(self) -> None:
        if self.faults.take(("crash_after",)):
            raise Crash(self.faults.step)

    def env_values(self, keys):
        self._effect(gate_ok=False)
        values = {k: SECRET_VALUE for k in ("CRON_SECRET", "INNGEST_SIGNING_KEY")}
        values["CRON_RESPONSE_TIMING_USE_INNGEST"] = self.world.flag
        return {k: values.get(k, "false") for k in keys}, set()

    def production(self) -> Production:
        ready = [d for d, v in self.world.deployments.items()
                 if v["state"] == "READY" and not v.get("canary")]
        served = self.world.serving or (ready[-1] if ready else "dpl_initial")
        return Production(served, "app.test", "app", "READY")

    # -- canary mode: a rolling release of a build that does not take production
    def rolling_unavailable(self) -> str | None:
        return None

    def build_canary(self, source_id, intent_id, on_state) -> Deployed:
        deployment_id = f"dpl_{len(self.world.deployments) + 1}"
        self.world.deployments[deployment_id] = {"intent": intent_id, "state": "READY", "canary": True,
                                                 "flag": self.world.flag}
        return self.wait_deployment(deployment_id, on_state)

    def wait_canary(self, deployment_id, on_state) -> Deployed:
        return self.wait_deployment(deployment_id, on_state)

    def start_release(self, canary_id, share) -> dict[str, Any]:
        self.world.release = {"canaryId": canary_id, "controlId": self.production().id, "percentage": share,
                              "state": "ACTIVE"}
        return dict(self.world.release)

    def release_status(self) -> dict[str, Any] | None:
        return dict(self.world.release) if self.world.release else None

    def complete_release(self, canary_id) -> None:
        self.world.release = {**self.world.release, "state": "COMPLETE"}
        self.world.serving = canary_id

    def liveness_probe(self, playbook) -> dict[str, Any]:
        now, rid = self.clock.now_ms(), f"probe-{len(self.world.probe_rows) + 1}"
        self.world.probe_rows.append({"timestampInMs": now, "requestPath": f"app.test{playbook.route}",
                                      "responseStatusCode": 405, "requestId": rid, "message": "",
                                      "deploymentId": self.production().id})
        return {"atMs": now, "doneMs": now, "method": "OPTIONS", "status": 405, "requestId": rid}

    def rollback_candidate(self, deployment_id) -> bool | None:
        return self.world.rollback_candidate

    def instant_rollback(self, deployment_id, reason) -> None:
        self._effect(gate_ok=False)
        if self.world.refuse_instant:
            raise RollbackRefused(f"Vercel refused it: 422 not_rollback_candidate ({deployment_id})")
        self.world.serving = deployment_id
        self.world.rollbacks.append(deployment_id)
        self._after()

    def readiness(self, playbook, source) -> list[str]:
        gate = self._effect()
        self._after()
        return ["CRON_SECRET is not set locally: the probe must send it"] if gate else []

    def capture(self, since_ms, until_ms, out: Path, *, source="api", source_file=None) -> Captured:
        self._effect(gate_ok=False)
        self.world.captures.append((source, source_file.name if source_file else None))
        rows = [*(self.world.traffic(since_ms, until_ms, self.world.release) if self.world.traffic else ()),
                *(r for r in self.world.probe_rows if since_ms <= r["timestampInMs"] <= until_ms)]
        out.write_text(json.dumps(rows))
        meta = out.with_name(f"{out.stem}.meta.json")
        meta.write_text(json.dumps({"since_ms": since_ms, "until_ms": until_ms}))
        self._after()
        return Captured(meta.name, 0)

    def write_flag(self, key, value, allowed, on_step=None) -> FlagWritten:
        self._effect(gate_ok=False)
        previous, changed = self.world.flag, self.world.flag != value
        if changed:
            self.world.flag = value
            self.world.flag_writes.append(value)
        self._after()
        return FlagWritten(changed, previous, len(value), False)

    def find_deployment(self, intent_id) -> str | None:
        return next((d for d, v in self.world.deployments.items() if v["intent"] == intent_id), None)

    def redeploy(self, source_id, intent_id, on_state) -> Deployed:
        gate = self.faults.take(("gate", "crash_before"))
        if gate == "crash_before":
            raise Crash(self.faults.step)
        deployment_id = f"dpl_{len(self.world.deployments) + 1}"
        self.world.serving = None
        self.world.deployments[deployment_id] = {"intent": intent_id,
                                                 "state": "ERROR" if gate else "READY",
                                                 "flag": self.world.flag}
        self._after()
        if self.faults.take(("error",)):  # created, then the wait ran past its deadline
            raise PlatformError(f"deployment {deployment_id} is still BUILDING at the deadline")
        return self.wait_deployment(deployment_id, on_state)

    def wait_deployment(self, deployment_id, on_state) -> Deployed:
        state = self.world.deployments[deployment_id]["state"]
        return Deployed(deployment_id, f"{deployment_id}.test", state, self.clock.now_ms(),
                        {"id": deployment_id, "finalState": state})

    def probe(self, playbook, expect) -> Probed:
        gate = self._effect()
        self._after()
        if gate:
            return Probed(False, ("status 500, expected 202 (dispatch-only)",), None, None, {"status": 500})
        return Probed(True, (), "cron:response-timing:1", "evt_1", {"status": 202})

    def durable(self, playbook, dispatch_key, on_poll) -> DurableHealth:
        gate = self._effect()
        self._after()
        if gate:
            return DurableHealth(False, (f"run for {dispatch_key} FAILED: Invalid signature",), "", {})
        return DurableHealth(True, (), "Durable run SUCCEEDED in the ledger", {})


class FakeAnalysis:
    """The window computations, decided by the faults instead of by log files."""

    def __init__(self, faults: Faults, decide_at_look: int | None = None) -> None:
        self.faults = faults
        self.decide_at_look = decide_at_look  # the look whose sequential verdict is PASS (None: never)
        self.looks = 0

    def look_at(self, baseline, post, book, catalogue, bw, so_far) -> dict[str, Any]:
        self.looks += 1
        decisive = self.looks == self.decide_at_look
        return {"decision": "PASS" if decisive else "continue", "at_ms": so_far["until_ms"],
                "post_minutes": (so_far["until_ms"] - so_far["since_ms"]) / 60_000, "p_drop": 0.01,
                "why": "drop proven (fake)" if decisive else "not decisive yet (fake)"}

    def early_verdict(self, fixed, deciding, looks, full_minutes) -> dict[str, Any]:
        return {**fixed, "verdict": "FAIL" if fixed["verdict"] == "FAIL" else deciding["decision"],
                "headline": f"{deciding['decision']} (early stop after {deciding['post_minutes']:g} min)"}

    def attribute_baseline(self, path, book, catalogue) -> dict[str, Any]:
        none = self.faults.take(("gate",))
        return {"matrix": {}, "markdown": "", "target_failures": 0 if none else 42, "unit": "rows",
                "rank": 1}

    def compare_windows(self, baseline, post, book, catalogue, bw, pw) -> dict[str, Any]:
        verdict = "FAIL" if self.faults.take(("gate",)) else "PASS"
        headline = f"{verdict}: {book.route} failure rows 42 -> {0 if verdict == 'PASS' else 40}"
        return {"verdict": verdict, "json": {}, "markdown": "", "headline": headline,
                "reasons": [f"target failures {'dropped' if verdict == 'PASS' else 'did not drop'}"]}


_module = sys.modules[__name__]  # GATES and fake_run_gate looked up late: tests may replace them
PASSIVE = frozenset({"gates", "attribute", "soak", "compare", "verdict"})
GATES = (Gate("lint", "npm run lint"),)


def fake_run_gate(faults: Faults):
    """A gate whose exit code the faults decide (``gate``: it fails with output)."""
    def run(gate, checkout, commit, redact) -> GateResult:
        failed = faults.take(("gate",))
        output = "src/a.ts:1 error no-unused-vars\n1 problem\n" if failed else "ok\n"
        return GateResult(gate.name, 1 if failed else 0, 0.5, redact(output), len(output), commit)
    return run
BOOKS = load_playbooks(None)
CATALOGUE = build_catalogue({})


class Harness:
    """One project and one artifacts folder; ``drive`` runs as a fresh process each time."""

    def __init__(self, root: Path, faults: dict[str, str] | None = None,
                 always_gate: frozenset[str] = frozenset(), decide_at_look: int | None = 1,
                 instant: bool = True) -> None:
        self.decide_at_look = decide_at_look  # the soak's look that decides (None: never early)
        self.books = BOOKS
        self.book = self.books[SLICE]
        self.faults = Faults(dict(faults or {}), always_gate=always_gate)
        self.world, self.clock = World(rollback_candidate=instant), FakeClock()
        self.store = IterationStore(root)
        folder = self.store.new_folder(SLICE, self.clock.now_ms())
        self.iteration = folder.name
        self.store.save(IterationState(iteration=folder.name, slice=SLICE, route=self.book.route,
                                       created_ms=self.clock.now_ms(), window_s=1800, yes=True))
        self.processes = 0
        self.answers: list[bool] = []  # the operator's answers to confirmations (True when none left)
        self.attached: Path | None = None  # the file the next process is resumed with (--export)

    def state(self) -> IterationState:
        return self.store.load(self.iteration)

    def drive(self) -> IterationState | None:
        """One process: load, drive, return the state (None when it crashed)."""
        self.processes += 1
        ctx = self.context()
        try:
            return machine.drive(ctx, self.state())
        except Crash:
            return None

    def context(self) -> machine.Context:
        """What one process runs with (the attached export is handed over once)."""
        ctx = machine.Context(
            playbook=self.book, books=self.books,
            platform=FakePlatform(self.world, self.faults, self.clock), store=self.store,
            clock=self.clock, catalogue=CATALOGUE, ui=FakeUI(self.faults, PASSIVE),
            secrets=("CRON_SECRET", "INNGEST_SIGNING_KEY"),
            confirm=lambda q: self.answers.pop(0) if self.answers else True,
            analysis=FakeAnalysis(self.faults, self.decide_at_look), gates=_module.GATES,
            run_gate=_module.fake_run_gate(self.faults), export=self.attached,
        )
        self.attached = None
        return ctx

    def run_to_end(self, limit: int = 40) -> IterationState:
        """Drive, then resume after every crash and platform error, as an operator would."""
        for _ in range(limit):
            state = self.drive()
            if state is None or state.status in ("error", "waiting", "running"):
                continue
            return state
        raise AssertionError(f"no end after {limit} processes: {self.state().status}")

    def deployments_by_intent(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for d in self.world.deployments.values():
            counts[d["intent"]] = counts.get(d["intent"], 0) + 1
        return counts
