"""Two routes beside the Vercel API proper: env delete, and fault knobs changed while serving.

``DELETE /v9/projects/{id}/env/{envId}`` answers as Vercel does (the deleted variable); with
create-without-upsert (``ENV_ALREADY_EXISTS`` on a clash) it is what the project lease needs.
``POST /_sandbox/faults`` with ``{"api_5xx_rate": 1}`` (any fault knob) breaks or heals the
platform while a run is under way, so tests can stop an iteration and then let it resume.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reversal.errors import InputError
from reversal.sandbox.api import Call, Faults, Reply, _env_view, _gate, error
from reversal.sandbox.settings import parse_knobs

if TYPE_CHECKING:
    from reversal.sandbox.runtime import Sandbox

LIVE_KNOBS = ("api_429_rate", "api_5xx_rate", "build_s", "deploy_error")
_ENV_ONE = re.compile(r"/v9/projects/([^/]+)/env/([^/]+)")


def handle(sandbox: Sandbox, call: Call, now_ms: int) -> Reply | None:
    """The reply when ``call`` is one of these routes, else None. The faults route passes the
    token check only (it must be able to heal a 5xx fault); env delete suffers faults as any call."""
    path = call.path.rstrip("/")
    if path == "/_sandbox/faults" and call.method == "POST":
        return _gate(call, sandbox.platform, sandbox.token, Faults(0, 0), sandbox._rngs["faults"]) \
            or set_faults(sandbox, call.body)
    if (match := _ENV_ONE.fullmatch(path)) and call.method == "DELETE":
        return _gate(call, sandbox.platform, sandbox.token, sandbox._faults(), sandbox._rngs["faults"]) \
            or delete_env(sandbox, match.group(1), match.group(2), now_ms)
    return None


def delete_env(sandbox: Sandbox, project: str, env_id: str, now_ms: int) -> Reply:
    platform = sandbox.platform
    if project not in (platform.project_id, platform.project_name):
        return error(404, "not_found", "Project not found.")
    with platform.lock:
        entry = next((e for e in platform.envs if e["id"] == env_id), None)
        if entry is None:
            return error(404, "not_found", f"Environment Variable {env_id} was not found.")
        platform.envs.remove(entry)
        platform.audit.append({"action": "env.delete", "key": entry["key"], "atMs": now_ms})
        return Reply(200, _env_view(entry, decrypt=False))


def set_faults(sandbox: Sandbox, body: Any) -> Reply:
    if not isinstance(body, Mapping) or not body or set(body) - set(LIVE_KNOBS):
        return error(400, "bad_request", f"expected a JSON object of knobs among {', '.join(LIVE_KNOBS)}.")
    try:
        settings = parse_knobs([f"{k}={str(v).lower()}" for k, v in body.items()],
                               base=sandbox.settings)
    except InputError as exc:
        return error(400, "bad_request", str(exc))
    sandbox.settings = settings
    with sandbox.platform.lock:
        sandbox.platform.build_ms = int(settings.build_s * 1000)
        if "deploy_error" in body:
            sandbox.platform.pending_outcomes = ["ERROR"] * settings.deploy_error
    return Reply(200, {k: getattr(settings, k) for k in LIVE_KNOBS} | {"ok": True})

