"""``reversal env fix``: trim the tainted production values ``env audit`` finds, redeploy once,
re-audit.

By hand, the team normalized four trailing-newline booleans, redeployed and re-audited. Here
each trim is a journaled write with an exact read-back (``flags.write_flag``, production only),
recorded in a state file of its own evidence folder (``artifacts/env-fix-<UTC>/``), so a run
stopped mid-way resumes there: the plan is read again from the world (a trimmed value is clean
and not planned twice) and a redeploy whose intent was journaled is found by its tag instead of
made twice. Sensitive values cannot be read, so their fix is printed as steps. Secrets are
described by their shape (length, whitespace) only, never printed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from reversal.errors import EXIT_FAIL, EXIT_OK
from reversal.evidence.files import ENV_FIX_PREFIX, ENV_FIX_RESULT, ENV_FIX_STATE, env_fix_states


class FixJournal:
    """The fix's state file: status, the journal of intents and completions, the events."""

    def __init__(self, folder: Path, data: dict[str, Any]) -> None:
        self.folder, self.data = folder, data

    @classmethod
    def open(cls, artifacts: Path, now_ms: int) -> FixJournal:
        """The unfinished fix to resume, else a new folder."""
        from reversal.evidence.files import utc_stamp

        for path in env_fix_states(artifacts):
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("status") == "running":
                return cls(path.parent, data)
        folder = artifacts / f"{ENV_FIX_PREFIX}{utc_stamp(now_ms)}"
        suffix = 1
        while folder.exists():
            suffix += 1
            folder = artifacts / f"{ENV_FIX_PREFIX}{utc_stamp(now_ms)}-{suffix}"
        folder.mkdir(parents=True)
        journal = cls(folder, {"status": "running", "createdMs": now_ms, "journal": [], "events": []})
        journal.save()
        return journal

    @property
    def resumed(self) -> bool:
        return bool(self.data["events"])

    def save(self) -> None:
        from reversal.evidence.files import write_json

        write_json(self.folder / ENV_FIX_STATE, self.data)

    def entry(self, effect: str) -> dict[str, Any] | None:
        return next((e for e in reversed(self.data["journal"]) if e["effect"] == effect), None)

    def record(self, effect: str, phase: str, at_ms: int, **detail: Any) -> None:
        self.data["journal"].append({"effect": effect, "phase": phase, "atMs": at_ms, **detail})
        self.save()

    def event(self, at_ms: int, step: str, message: str) -> None:
        self.data["events"].append({"atMs": at_ms, "step": step, "message": message})
        self.save()

    def written(self) -> list[str]:
        return [e["key"] for e in self.data["journal"] if e["effect"] == f"trim:{e.get('key')}"
                and e["phase"] == "done"]

    def timeline(self) -> str:
        from reversal.evidence.files import utc_iso

        lines = [f"# env fix {self.folder.name}", "", f"Status: {self.data['status']}", ""]
        lines += [f"- {utc_iso(e['atMs'])} **{e['step']}**: {e['message']}" for e in self.data["events"]]
        return "\n".join(lines) + "\n"


def _shape(value: str | None) -> dict[str, Any]:
    if value is None:
        return {"present": False}
    return {"present": True, "length": len(value), "whitespace": value != value.strip()}


def run_fix(*, keys: tuple[str, ...], yes: bool, redeploy: bool, as_json: bool,
            config_path: Path | None) -> int:
    from reversal.evidence.report import write_index
    from reversal.iteration.session import confirm_prompt, open_session
    from reversal.platform.envaudit import rules_for
    from reversal.playbooks import order

    with open_session(config_path) as session:
        config = session.config
        books = config.load_playbooks()
        playbooks = [books[s] for s in order(books)]
        wanted = list(keys) or list(rules_for(playbooks, config.secrets))
        with session.exclusive(f"reversal env fix (pid {os.getpid()})"):
            fixer = _Fixer(session, playbooks, wanted, confirm_prompt(yes), quiet=as_json)
            document = fixer.run(force_redeploy=redeploy)
        write_index(config.artifacts, books)
    if as_json:
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(f"\n{'clean' if document['ok'] else 'NOT clean'} after the fix; evidence: "
                   f"{document['folder']}")
    return EXIT_OK if document["ok"] else EXIT_FAIL


class _Fixer:
    """One fix: audit, plan, trims, one redeploy, re-audit; each step on the journal."""

    def __init__(self, session, playbooks, wanted: list[str], confirm, *, quiet: bool) -> None:
        self.session, self.config, self.client = session, session.config, session.client
        self.clock, self.playbooks, self.wanted = session.clock, playbooks, wanted
        self.confirm, self.quiet = confirm, quiet
        self.journal = FixJournal.open(self.config.artifacts, self.clock.now_ms())

    def say(self, text: str) -> None:
        if not self.quiet:
            click.echo(text, err=False)

    def note(self, step: str, message: str) -> None:
        from reversal.evidence.files import write_text

        self.journal.event(self.clock.now_ms(), step, message)
        write_text(self.journal.folder / "timeline.md", self.journal.timeline())
        self.say(f"{step}: {message}")

    def audit(self, name: str):
        """Read and audit the wanted keys; the checks artifact (shapes only) is written."""
        from reversal.evidence.files import utc_iso, write_json
        from reversal.platform.envaudit import audit
        from reversal.platform.envfile import local_copy
        from reversal.platform.flags import read_values
        from reversal.redact import register

        def local(key: str):
            return local_copy(key, environ=self.config.environ, env_file=self.config.env_file)

        values, unreadable = read_values(self.client, self.wanted, self.config.environment, local)
        register(values.values())  # whatever is printed later is scrubbed of them
        checks = audit(values, self.playbooks, self.config.secrets, keys=self.wanted,
                       unreadable=unreadable)
        write_json(self.journal.folder / f"{name}.json", {
            "capturedAtUtc": utc_iso(self.clock.now_ms()), "environment": self.config.environment,
            "checks": [c.as_json() for c in checks]})
        return values, checks

    def run(self, *, force_redeploy: bool) -> dict[str, Any]:
        from reversal.platform.envfix import plan_fixes

        if self.journal.resumed:
            self.note("resume", f"resuming the unfinished fix in {self.journal.folder.name}")
        values, checks = self.audit("audit-before")
        failing = [c.key for c in checks if not c.ok]
        fixes = plan_fixes(checks, self.config.environment)
        self.note("audit", f"{len(checks) - len(failing)}/{len(checks)} checks ok"
                  + (f"; failing: {', '.join(failing)}" if failing else ""))
        trims = [f for f in fixes if f.action == "trim"]
        for fix in fixes:
            self.say(f"  {fix.key}: {fix.action} — {fix.detail}")
        pending = bool(trims) or bool(self.journal.written()) or bool(self.journal.entry("redeploy"))
        if (pending or force_redeploy) and not self.journal.entry("confirmed"):
            what = (f"trim {', '.join(f.key for f in trims)} in {self.config.environment}, then "
                    if trims else "") + "redeploy the live production deployment"
            if not self.confirm(f"env fix: {what}?"):
                self.note("confirm", "not confirmed: nothing changed (use --yes)")
                return self.finish(checks, fixes, ok=False, redeployed=None)
            self.journal.record("confirmed", "done", self.clock.now_ms())
        for fix in trims:
            self.trim(fix.key, values[fix.key])
        for fix in fixes:
            if fix.action == "manual":
                self.note("manual", f"{fix.key}: {fix.detail}")
            elif fix.action == "none":
                self.note("not-fixed", f"{fix.key}: {fix.detail}")
        redeployed = self.redeploy() if pending or force_redeploy else None
        _, after = self.audit("audit-after")
        still = [c.key for c in after if not c.ok]
        self.note("re-audit", "clean" if not still else f"still failing: {', '.join(still)}")
        return self.finish(after, fixes, ok=not still, redeployed=redeployed)

    def trim(self, key: str, value: str | None) -> None:
        from reversal.platform.flags import write_flag

        assert value is not None  # a "trim" is planned for readable values only
        effect = f"trim:{key}"
        before, trimmed = _shape(value), value.strip()
        self.journal.record(effect, "intent", self.clock.now_ms(), key=key, before=before)

        def on_step(phase: str, step) -> None:
            self.journal.record(f"{effect}:split", phase, self.clock.now_ms(), **dict(step))

        written = write_flag(self.client, key=key, value=trimmed, allowed=(trimmed,),
                             target=self.config.environment, on_step=on_step)
        after = {"present": written.read_back.present, "length": written.read_back.length,
                 "whitespace": written.read_back.whitespace}
        self.journal.record(effect, "done", self.clock.now_ms(), key=key, before=before, after=after,
                            envId=written.env_id, verification=written.verification,
                            split=bool(written.split))
        self.note("trim", f"{key}: {before['length']} → {after['length']} characters, read back "
                  "exactly with no surrounding whitespace"
                  + (" (production split off a shared record)" if written.split else ""))

    def redeploy(self) -> dict[str, Any]:
        """One redeploy of the live production deployment. A run stopped after the intent finds
        the deployment by its tag; one that ended ERROR is retried under a new intent."""
        from reversal.evidence.files import write_json
        from reversal.platform.deploy import DeployFailed, find_production, redeploy, wait_ready
        from reversal.platform.vercel import INTENT_META_KEY

        entry = self.journal.entry("redeploy")
        if entry is not None and entry["phase"] == "done":
            return entry["record"]
        try:
            if entry is not None and entry["phase"] == "intent":
                found = self.client.list_deployments(target="production", state=None,
                                                     meta={INTENT_META_KEY: entry["intent"]})
                if found:
                    return self._deployed(entry["intent"], wait_ready(self.client, found[0].id,
                                                                      clock=self.clock))
            attempt = 1 + sum(1 for e in self.journal.data["journal"]
                              if e["effect"] == "redeploy" and e["phase"] == "failed")
            intent = f"{self.journal.folder.name}:redeploy" + (f"#{attempt}" if attempt > 1 else "")
            source, how = find_production(self.client)
            self.journal.record("redeploy", "intent", self.clock.now_ms(), intent=intent,
                                sourceId=source.id, foundBy=how)
            return self._deployed(intent, redeploy(self.client, source=source, clock=self.clock,
                                                   intent_id=intent))
        except DeployFailed as exc:
            write_json(self.journal.folder / "redeploy.json", exc.record.as_json())
            if not exc.record.timed_out:  # ended ERROR/CANCELED/BLOCKED: the next run makes a new one
                self.journal.record("redeploy", "failed", self.clock.now_ms(),
                                    deploymentId=exc.record.id, finalState=exc.record.final_state)
            self.note("redeploy", f"{exc} Run 'reversal env fix' again to resume this fix.")
            raise

    def _deployed(self, intent: str, record) -> dict[str, Any]:
        from reversal.evidence.files import write_json

        doc = record.as_json()
        write_json(self.journal.folder / "redeploy.json", doc)
        self.journal.record("redeploy", "done", self.clock.now_ms(), intent=intent, record=doc)
        self.note("redeploy", f"deployment {record.id} READY and serving production")
        return doc

    def finish(self, checks, fixes, *, ok: bool, redeployed: dict[str, Any] | None) -> dict[str, Any]:
        from reversal.evidence.files import write_json, write_text

        self.journal.data["status"] = "done"
        self.journal.save()
        document = {
            "folder": str(self.journal.folder), "ok": ok, "environment": self.config.environment,
            "fixes": [f.as_json() for f in fixes], "written": self.journal.written(),
            "redeploy": redeployed, "checks": [c.as_json() for c in checks],
        }
        write_json(self.journal.folder / ENV_FIX_RESULT, document)
        write_text(self.journal.folder / "timeline.md", self.journal.timeline())
        return document
