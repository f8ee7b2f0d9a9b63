"""Playbooks: one YAML file per migration slice, validated into a frozen ``Playbook``.

A playbook names the route, the flag that moves it to durable execution (with the value
that rolls it back), what failure it should remove, how to probe and verify it, and the gate
that decides PASS. Validation errors name the file and the field; keep-sync routes
(``/api/inbox/*``) and slices without a rollback value are refused outright.
"""

from __future__ import annotations

import datetime as dt
import difflib
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from reversal.durations import parse_duration
from reversal.errors import InputError

BUILTIN_DIR = Path(__file__).parent / "builtin_playbooks"
KEEP_SYNC_PREFIX = "/api/inbox/"
ELIGIBLE_PREFIXES = ("/api/webhooks/", "/api/cron/")
BLANK = None  # a blank status in `target.statuses`, written `blank` in YAML

# Every key a playbook may hold, per section: adding a key is one line here (plus reading it
# below). Anything else is refused with "did you mean", so `onfail: stop` can no longer
# silently mean the default.
SCHEMA: dict[str, frozenset[str]] = {k: frozenset(v.split()) for k, v in {
    "": "slice route kind priority after flag target probe durable window gate on_fail preflight "
        "early_stop min_soak gates break_glass_cron_change mode canary_share rollback_mode",
    "flag": "name on off",
    "target": "statuses signatures",
    "probe": "method auth dispatch inline",
    "probe.auth": "bearer_env",
    "probe.dispatch": "status json dispatch_key event",
    "probe.inline": "status",
    "durable": "function event queue timeout",
    "gate": "min_drop alpha burst barometers controls",
    "gate.burst": "per_minute minutes",
    "preflight": "must_be_off",
}.items()}

# `{bucket:5m}` -> 2026-02-18T03:15 ; `{bucket_iso:1m}` -> 2026-02-18T03:19:00.000Z (UTC floor)
_BUCKET = re.compile(r"\{bucket(_iso)?:(\d+)([smh])\}")


@dataclass(frozen=True)
class Flag:
    name: str
    on: str
    off: str

    @property
    def allowed(self) -> tuple[str, str]:
        return (self.on, self.off)


@dataclass(frozen=True)
class Target:
    statuses: tuple[int | None, ...]
    signatures: tuple[str, ...]


@dataclass(frozen=True)
class DispatchExpectation:
    status: int
    json: Mapping[str, Any]
    dispatch_key: str | None  # template, e.g. "cron:response-timing:{bucket:5m}"
    event: str | None  # event name; the event id is "<event>:<dispatchKey>"

    def bucket_seconds(self) -> int | None:
        match = _BUCKET.search(self.dispatch_key or "")
        if not match:
            return None
        return int(match.group(2)) * {"s": 1, "m": 60, "h": 3600}[match.group(3)]

    def expected_key(self, at_ms: int) -> str | None:
        """The dispatch key the route must return for a request made at ``at_ms`` (UTC)."""
        if self.dispatch_key is None:
            return None
        seconds = self.bucket_seconds()
        if seconds is None:
            return self.dispatch_key
        start = dt.datetime.fromtimestamp((at_ms // 1000) // seconds * seconds, dt.UTC)

        def stamp(match: re.Match[str]) -> str:
            if match.group(1):
                return start.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            return start.strftime("%Y-%m-%dT%H:%M")

        return _BUCKET.sub(stamp, self.dispatch_key)


@dataclass(frozen=True)
class ProbeSpec:
    method: str
    bearer_env: str | None
    dispatch: DispatchExpectation | None
    inline_status: int


@dataclass(frozen=True)
class DurableSpec:
    function: str | None  # BackgroundFunctionRun.functionName
    event: str | None
    queue: str | None  # "WebhookEvent" for queue-first slices
    timeout_s: float


@dataclass(frozen=True)
class Burst:
    per_minute: int
    minutes: int


@dataclass(frozen=True)
class Gate:
    min_drop: float
    alpha: float
    burst: Burst
    barometers: tuple[str, ...]
    controls: tuple[str, ...] | None = None  # routes the target is judged against; None: chosen automatically


@dataclass(frozen=True)
class Playbook:
    slice: str
    route: str
    kind: Literal["cron", "webhook"]
    priority: str
    after: tuple[str, ...]
    flag: Flag
    target: Target
    probe: ProbeSpec | None  # None: verified passively (no synthetic request is sent)
    durable: DurableSpec
    window_s: float
    gate: Gate
    on_fail: Literal["rollback", "stop"]
    rollback_mode: Literal["instant", "rebuild"] = "instant"  # how a FAIL is undone (instant where available)
    must_be_off: tuple[str, ...] = ()  # flags preflight requires disabled
    early_stop: bool = True  # end the soak early when the sequential verdict is decisive
    min_soak_s: float | None = None  # never decide early before this (default: 10 min, 2 cron periods)
    gates: tuple = ()  # reversal.gates.Gate: this slice's safety gates (merged over reversal.yaml's)
    break_glass_cron_change: str | None = None  # the declared reason a cron schedule may change
    path: Path | None = field(default=None, compare=False)
    mode: Literal["standard", "canary"] = "standard"  # canary: a rolling release, judged concurrently
    canary_share: float = 10.0  # percent of production traffic the canary serves (mode canary)

    @property
    def verify(self) -> Literal["active", "passive"]:
        return "passive" if self.probe is None else "active"


class _Fields:
    """Reads one mapping, turning every type mistake into an error naming file and field."""

    def __init__(self, data: Any, where: str, origin: str) -> None:
        if not isinstance(data, Mapping):
            raise InputError(f"{origin}: {where or 'the file'} must be a mapping of fields.")
        self.data, self.where, self.origin = data, where, origin
        allowed = SCHEMA.get(where)
        for key in data if allowed is not None else ():
            if key not in allowed:
                raise InputError(f"{origin}: unknown field '{self._name(str(key))}'"
                                 f"{did_you_mean(str(key), allowed)}; known fields here: "
                                 f"{', '.join(sorted(allowed))}.")

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, expected: str) -> InputError:
        got = self.data.get(key, "<missing>")
        return InputError(f"{self.origin}: field '{self._name(key)}' {expected} (got {got!r}).")

    def get(self, key: str, kind: type | tuple[type, ...], expected: str, default: Any = ...) -> Any:
        if key not in self.data or self.data[key] is None:
            if default is ...:
                raise self.fail(key, f"is required and {expected}")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _tuple(kind)):
            raise self.fail(key, expected)
        return value

    def sub(self, key: str, required: bool = True) -> _Fields | None:
        if self.data.get(key) is None:
            if required:
                raise self.fail(key, "is required and must be a mapping")
            return None
        return _Fields(self.data[key], self._name(key), self.origin)

    def duration(self, key: str, default: Any = ...) -> float:
        raw = self.get(key, (str, int, float), "must be a duration like 30m or 90s", default)
        return parse_duration(raw, f"{self.origin}: field '{self._name(key)}'")

    def number(self, key: str, kind: type, low: float, high: float, expected: str, default: Any) -> Any:
        value = self.get(key, (int, float) if kind is float else int, expected, default)
        if not (low <= value <= high):  # also refuses NaN
            raise self.fail(key, expected)
        return value

    def status(self, key: str, default: int) -> int:
        return self.number(key, int, 100, 599, "must be an HTTP status (100-599)", default)

    def strings(self, key: str, default: Any = ...) -> tuple[str, ...]:
        items = self.get(key, list, "must be a list of strings", default)
        if not all(isinstance(i, str) and i for i in items):
            raise self.fail(key, "must be a list of non-empty strings")
        return tuple(items)


def did_you_mean(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def route_path(text: str, what: str) -> str:
    """A route as written in a playbook or an option, normalised: ``https://host`` dropped,
    query dropped, ``.``/``..`` segments resolved, so ``/api/cron/../inbox/x`` is judged as
    ``/api/inbox/x``. Empty text, spaces or a relative path are refused naming ``what``."""
    path = text.strip().split("?", 1)[0].split("#", 1)[0]
    if path.startswith(("https://", "http://")):
        rest = path.split("://", 1)[1]
        path = "/" + rest.partition("/")[2]
    if not path.startswith("/") or any(c.isspace() for c in path) or not path.strip("/."):
        raise InputError(f"{what} {text!r}: expected a route path like /api/cron/response-timing "
                         "(starting with '/', no spaces).")
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/") if normal != "/" else normal


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _statuses(f: _Fields) -> tuple[int | None, ...]:
    out: list[int | None] = []
    for item in f.get("statuses", list, "must be a list of HTTP statuses or 'blank'"):
        if item == "blank":
            out.append(BLANK)
        elif type(item) is int and 100 <= item <= 599:
            out.append(item)
        else:
            raise f.fail("statuses", "must list HTTP statuses (100-599) or 'blank'")
    return tuple(out)


def _probe(f: _Fields | None) -> ProbeSpec | None:
    if f is None:
        return None
    auth = f.sub("auth", required=False)
    dispatch = f.sub("dispatch", required=False)
    inline = f.sub("inline")
    expectation = None
    if dispatch is not None:
        expectation = DispatchExpectation(
            status=dispatch.status("status", 202),
            json=dispatch.get("json", Mapping, "must be a mapping of expected JSON fields", {}),
            dispatch_key=dispatch.get("dispatch_key", str, "must be a key template", None),
            event=dispatch.get("event", str, "must be an event name", None),
        )
    method = f.get("method", str, "must be GET or POST", "GET").upper()
    if method not in ("GET", "POST"):
        raise f.fail("method", "must be GET or POST")
    return ProbeSpec(
        method=method,
        bearer_env=auth.get("bearer_env", str, "must name an env var", None) if auth else None,
        dispatch=expectation,
        inline_status=inline.status("status", 200),
    )


def parse_playbook(data: Any, origin: str, known_signatures: Iterable[str] = ()) -> Playbook:
    """Validate one playbook document. ``origin`` names the file in every error."""
    f = _Fields(data, "", origin)
    route = route_path(f.get("route", str, "must be a route path like /api/cron/response-timing"),
                       f"{origin}: field 'route'")
    if route.startswith(KEEP_SYNC_PREFIX) or route + "/" == KEEP_SYNC_PREFIX:
        raise InputError(
            f"{origin}: route {route} is a keep-sync user-facing read (/api/inbox/*); it must "
            "stay synchronous and can only serve as a barometer, never as a migration slice."
        )
    if not route.startswith(ELIGIBLE_PREFIXES):
        raise f.fail("route", "must be a webhook or cron route (/api/webhooks/* or /api/cron/*)")
    kind = f.get("kind", str, "must be cron or webhook")
    if kind not in ("cron", "webhook"):
        raise f.fail("kind", "must be cron or webhook")
    flag_f = f.sub("flag")
    assert flag_f is not None
    flag_values = {}
    for key in ("name", "on", "off"):
        value = flag_f.data.get(key)
        if key == "off" and value in (None, ""):
            raise InputError(
                f"{origin}: field 'flag.off' is missing: a slice without a rollback value "
                "cannot be shipped (every migrated route needs its own rollback flag value)."
            )
        if not isinstance(value, str | bool) or (isinstance(value, str) and (
            not value or value != value.strip()
        )):
            raise flag_f.fail(key, "must be a non-empty string without surrounding whitespace")
        flag_values[key] = str(value).lower() if isinstance(value, bool) else value
    if flag_values["on"] == flag_values["off"]:
        raise flag_f.fail("off", "must differ from flag.on")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", flag_values["name"]):
        raise flag_f.fail("name", "must be an environment variable name (letters, digits, _)")
    if _secret_like(flag_values["name"]):
        raise flag_f.fail("name", "must not be named like a secret (CRON_SECRET, *_TOKEN, *_KEY…): "
                          "the tool writes and reads flag values in clear")
    target_f = f.sub("target")
    assert target_f is not None
    signatures = target_f.strings("signatures", ())
    known = set(known_signatures)
    unknown = [s for s in signatures if known and s not in known]
    if unknown:
        raise InputError(
            f"{origin}: field 'target.signatures' names unknown signatures {unknown}; known: "
            f"{', '.join(sorted(known))} (add new ones under 'signatures:' in reversal.yaml)."
        )
    durable_f = f.sub("durable")
    assert durable_f is not None
    gate_f = f.sub("gate")
    assert gate_f is not None
    burst_f = gate_f.sub("burst", required=False)
    min_drop = gate_f.number("min_drop", float, 0, 1, "must be a number in (0, 1]", 0.8)
    alpha = gate_f.number("alpha", float, 0, 0.5, "must be a number in (0, 0.5)", 0.05)
    if min_drop == 0:
        raise gate_f.fail("min_drop", "must be a number in (0, 1]")
    if alpha in (0, 0.5):
        raise gate_f.fail("alpha", "must be a number in (0, 0.5)")
    barometers = tuple(route_path(b, f"{origin}: field 'gate.barometers'")
                       for b in gate_f.strings("barometers", ()))
    on_fail = f.get("on_fail", str, "must be rollback or stop", "rollback")
    if on_fail not in ("rollback", "stop"):
        raise f.fail("on_fail", "must be rollback or stop")
    rollback_mode = f.get("rollback_mode", str, "must be instant or rebuild", "instant")
    if rollback_mode not in ("instant", "rebuild"):
        raise f.fail("rollback_mode", "must be instant or rebuild")
    priority = f.get("priority", str, "must be P0, P1, ...", "P1")
    if not re.fullmatch(r"P\d", priority):
        raise f.fail("priority", "must be P0, P1, ...")
    slice_name = f.get("slice", str, "must be a slice name like response-timing")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", slice_name):
        raise f.fail("slice", "must be lower-case letters, digits and dashes")
    preflight = f.sub("preflight", required=False)
    return Playbook(
        slice=slice_name,
        route=route,
        kind=kind,  # type: ignore[arg-type]
        priority=priority,
        after=f.strings("after", ()),
        flag=Flag(**flag_values),
        target=Target(statuses=_statuses(target_f), signatures=signatures),
        probe=_probe(f.sub("probe", required=False)),
        durable=DurableSpec(
            function=durable_f.get("function", str, "must be a function name", None),
            event=durable_f.get("event", str, "must be an event name", None),
            queue=durable_f.get("queue", str, "must be a queue table name", None),
            timeout_s=durable_f.duration("timeout", "10m"),
        ),
        window_s=f.duration("window", "30m"),
        gate=Gate(
            min_drop=float(min_drop),
            alpha=float(alpha),
            burst=Burst(
                per_minute=burst_f.number("per_minute", int, 1, 10**6, "must be an integer >= 1", 3)
                if burst_f else 3,
                minutes=burst_f.number("minutes", int, 1, 10**4, "must be an integer >= 1", 3)
                if burst_f else 3,
            ),
            barometers=barometers,
            controls=gate_f.strings("controls") if gate_f.data.get("controls") is not None else None,
        ),
        on_fail=on_fail,  # type: ignore[arg-type]
        rollback_mode=rollback_mode,  # type: ignore[arg-type]
        must_be_off=preflight.strings("must_be_off", ()) if preflight else (),
        early_stop=f.get("early_stop", bool, "must be true or false", True),
        min_soak_s=f.duration("min_soak") if f.data.get("min_soak") is not None else None,
        gates=_safety_gates(f.data.get("gates"), origin),
        break_glass_cron_change=_break_glass(f),
        **_canary_fields(f, kind, origin),
    )


def _safety_gates(raw: Any, origin: str) -> tuple:
    if raw is None:
        return ()
    from reversal.gates import parse_gates

    return parse_gates(raw, origin)


def _break_glass(f: _Fields) -> str | None:
    """``break_glass_cron_change: <reason>``: a reason, not a yes/no, so the evidence says why."""
    reason = f.get("break_glass_cron_change", str, "must be the reason the slice changes a cron "
                   "schedule (text)", None)
    if reason is not None and not reason.strip():
        raise f.fail("break_glass_cron_change", "must be a non-empty reason")
    return reason.strip() if reason else None


CRON_NOT_SPLIT = (
    "Vercel Cron invocations are not known to be split between a rolling release's arms (Vercel's "
    "docs say cron jobs invoke the production deployment and say nothing of rolling releases), so "
    "a cron slice's canary would see no cron traffic; canary mode applies to webhook/HTTP-traffic "
    "slices only (docs/canary.md, 'Crons')"
)


def parse_share(raw: Any, where: str) -> float:
    """``10%``, ``10`` or ``0.1``-style shares as a percent strictly between 0 and 50: a canary
    serves the smaller arm (the control must stay the reference)."""
    text = str(raw).strip()
    try:
        value = float(text.removesuffix("%"))
    except ValueError:
        raise InputError(f"{where}: {raw!r} is not a share; expected a percentage like 10%.") from None
    if not text.endswith("%") and 0 < value < 1:
        value *= 100
    if not 0 < value <= 50:
        raise InputError(f"{where}: {raw!r} must be a share above 0% and at most 50%, e.g. 10%.")
    return value


def canary_refusal(kind: str) -> str | None:
    """Why a slice of ``kind`` cannot run in canary mode, or None."""
    return CRON_NOT_SPLIT if kind == "cron" else None


def _canary_fields(f: _Fields, kind: str, origin: str) -> dict[str, Any]:
    mode = f.get("mode", str, "must be standard or canary", "standard")
    if mode not in ("standard", "canary"):
        raise f.fail("mode", "must be standard or canary")
    share = parse_share(f.data["canary_share"], f"{origin}: field 'canary_share'") \
        if f.data.get("canary_share") is not None else 10.0
    refusal = canary_refusal(kind) if mode == "canary" else None
    if refusal:
        raise InputError(f"{origin}: field 'mode' is canary but the slice is kind: cron: {refusal}.")
    return {"mode": mode, "canary_share": share}


def _secret_like(name: str) -> bool:
    from reversal.config import DEFAULT_SECRETS
    from reversal.redact import KNOWN_SECRET_NAMES, SECRET_NAME

    return name.upper() in {*DEFAULT_SECRETS, *KNOWN_SECRET_NAMES} or bool(SECRET_NAME.search(name))


def load_playbook_file(path: Path, known_signatures: Iterable[str] = ()) -> Playbook:
    """One playbook file, validated, remembering where it came from."""
    from reversal.yamlfile import read_yaml

    book = parse_playbook(read_yaml(path, "playbook"), str(path), tuple(known_signatures))
    return Playbook(**{**book.__dict__, "path": path})


def load_playbooks(directory: Path | None, known_signatures: Iterable[str] = ()) -> dict[str, Playbook]:
    """All playbooks of ``directory`` (the built-ins when ``None``), keyed by slice.

    Checks across files too: unique slices, ``after:`` naming existing slices, no cycles.
    """
    directory = directory or BUILTIN_DIR
    files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    if not files:
        raise InputError(f"{directory}: no playbooks (*.yaml) found in this directory.")
    known = tuple(known_signatures)
    books: dict[str, Playbook] = {}
    for path in files:
        book = load_playbook_file(path, known)
        if book.slice in books:
            raise InputError(
                f"{path}: slice '{book.slice}' is already defined in {books[book.slice].path}."
            )
        books[book.slice] = book
    for book in books.values():
        missing = [a for a in book.after if a not in books]
        if missing:
            raise InputError(
                f"{book.path}: field 'after' names unknown slices {missing}; known: "
                f"{', '.join(sorted(books))}."
            )
    order(books)  # raises on cycles
    return books


def order(books: Mapping[str, Playbook]) -> list[str]:
    """Slices in run order: dependencies first, then priority, then name."""
    done: list[str] = []
    pending = dict(books)
    while pending:
        ready = sorted(
            (b for b in pending.values() if all(a in done for a in b.after)),
            key=lambda b: (b.priority, b.slice),
        )
        if not ready:
            where = ", ".join(f"{b.slice} ({b.path or 'built-in'})" for b in sorted(
                pending.values(), key=lambda b: b.slice))
            raise InputError(f"playbooks: field 'after' forms a cycle among {where}; each slice may "
                             "only come after slices that do not come after it.")
        done.append(ready[0].slice)
        del pending[ready[0].slice]
    return done


def find_playbook(books: Mapping[str, Playbook], slice_or_route: str) -> Playbook:
    """The playbook named by ``--route``: a slice name, or its route path."""
    for book in books.values():
        if slice_or_route in (book.slice, book.route):
            return book
    raise InputError(
        f"--route {slice_or_route!r}: no playbook for this slice or route; the playbooks define "
        f"{', '.join(sorted(books))}."
    )
