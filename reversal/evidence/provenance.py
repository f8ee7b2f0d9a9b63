"""Who ran an iteration, with what, against which platform and commit, on which clock.

``provenance`` is pure (the facts in, the record out) so it is tested without a machine;
``gather`` is the thin shell that reads the OS user, git's user.name and the host once, at
iteration start, and the result is stored in ``state.json`` under ``facts.provenance``.
Deployed commits come later from the production deployment's ``meta`` (``commit_of``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Where Vercel records the commit a deployment was built from, by git provider.
COMMIT_KEYS = ("githubCommitSha", "gitlabCommitSha", "bitbucketCommitSha")
REF_KEYS = ("githubCommitRef", "gitlabCommitRef", "bitbucketCommitRef")
REPO_KEYS = ("githubCommitRepo", "gitlabProjectName", "bitbucketRepoName")


def provenance(*, os_user: str | None, git_user: str | None, version: str, host: str,
               project_id: str | None, team: str | None, api_base: str,
               clock_factor: float | None) -> dict[str, Any]:
    """The provenance record. ``clock_factor`` is the sandbox clock's compression (None for
    the wall clock): every time in the packet is then simulated, and says so."""
    clock = ({"kind": "wall", "simulated": False, "label": "UTC wall clock"} if clock_factor is None
             else {"kind": "sandbox", "simulated": True, "factor": clock_factor,
                   "label": f"simulated sandbox clock (x{clock_factor:g})"})
    return {
        "ran_by": {"os_user": os_user, "git_user": git_user, "host": host},
        "reversal_version": version,
        "platform": {"project": project_id, "team": team, "api_base": api_base},
        "clock": clock,
    }


def commit_of(meta: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The deployed commit from a deployment's ``meta``, or None when it has none (a CLI
    deploy carries no git meta)."""
    meta = meta or {}
    sha = next((str(meta[k]) for k in COMMIT_KEYS if meta.get(k)), None)
    ref = next((str(meta[k]) for k in REF_KEYS if meta.get(k)), None)
    repo = next((str(meta[k]) for k in REPO_KEYS if meta.get(k)), None)
    if not (sha or ref):
        return None
    return {k: v for k, v in (("sha", sha), ("ref", ref), ("repo", repo)) if v}


def time_label(prov: Mapping[str, Any] | None) -> str:
    """The suffix every shown time carries: ``UTC`` or ``UTC, simulated (sandbox x120)``."""
    clock = (prov or {}).get("clock") or {}
    if clock.get("simulated"):
        return f"UTC, simulated: sandbox clock x{clock.get('factor', 0):g}"
    return "UTC"


def gather(config: Any, clock: Any) -> dict[str, Any]:
    """Read the facts from this machine and build the record (no secret is read)."""
    import getpass
    import socket
    import subprocess

    from reversal import __version__

    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):
        os_user = None
    try:
        found = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True,
                               timeout=5, cwd=getattr(config, "root", None) or None, check=False)
        git_user = found.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        git_user = None
    return provenance(
        os_user=os_user, git_user=git_user, version=__version__, host=socket.gethostname(),
        project_id=config.project_id, team=config.team_id or config.org_id,
        api_base=config.vercel_api, clock_factor=getattr(clock, "factor", None),
    )
