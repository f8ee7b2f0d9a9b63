"""``reversal init``: scaffold ``reversal.yaml`` and copy the built-in playbooks."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

_CONFIG = """\
# reversal project configuration. Secrets never go here: VERCEL_TOKEN, CRON_SECRET,
# INNGEST_SIGNING_KEY and DATABASE_URL come from the environment (or env_file).
project_id: {project_id}        # or VERCEL_PROJECT_ID, or .vercel/project.json
org_id: {org_id}                # team_... or user id; or VERCEL_ORG_ID
app_url: {app_url}              # base URL the probes call; or REVERSAL_APP_URL
environment: production
artifacts: artifacts
playbooks_dir: playbooks
secrets: [CRON_SECRET, INNGEST_SIGNING_KEY]
# env_file: .env.production.local   # as 'vercel env pull' writes it, for probe secrets
# signatures:                        # extend or override the built-in catalogue
#   my_timeout: "Task timed out after 120 seconds"
# Safety gates: run in the app's checkout (this folder) before every slice's first production
# change; a failing gate stops the slice before anything changes. A playbook may add its own
# 'gates:' (same name replaces this one). Break-glass: reversal run --skip-gate NAME --reason TEXT.
# gates:
#   - {{name: lint, run: npm run lint, timeout: 10m}}
#   - {{name: build, run: npm run build, timeout: 20m}}
#   - {{name: test, run: npm test, timeout: 20m}}
#   - name: replay                   # the AI replay suite; its artifact path is in the evidence
#     run: npm run replay -- --judge-prompt-key "$JUDGE_PROMPT_KEY"
#     cwd: .
#     timeout: 30m
#     env: {{JUDGE_PROMPT_KEY: replay-v3}}
"""


def init(directory: Path, *, force: bool, as_json: bool = False) -> int:
    from reversal.errors import InputError

    try:
        return _init(directory, force=force, as_json=as_json)
    except OSError as exc:
        where = exc.filename or directory
        raise InputError(
            f"init {directory}: cannot create {where} ({exc.strerror or exc}); expected DIRECTORY to be "
            "a writable folder, or a path whose parents are folders (not files)."
        ) from None


def _init(directory: Path, *, force: bool, as_json: bool) -> int:
    from reversal.config import linked_project
    from reversal.errors import InputError
    from reversal.playbooks import BUILTIN_DIR

    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "reversal.yaml"
    if config.exists() and not force:
        raise InputError(f"{config}: already exists; use --force to overwrite it.")
    linked = linked_project(directory)
    config.write_text(_CONFIG.format(
        project_id=linked.get("projectId", "prj_..."), org_id=linked.get("orgId", "team_..."),
        app_url="https://your-app.vercel.app"), encoding="utf-8")
    target = directory / "playbooks"
    target.mkdir(exist_ok=True)
    written = []
    for source in sorted(BUILTIN_DIR.glob("*.yaml")):
        dest = target / source.name
        if dest.exists() and not force:
            continue
        shutil.copyfile(source, dest)
        written.append(dest.name)
    artifacts = directory / "artifacts"
    artifacts.mkdir(exist_ok=True)
    if as_json:
        import json

        click.echo(json.dumps({"config": str(config), "playbooks_dir": str(target),
                               "playbooks_written": written, "artifacts": str(artifacts)}))
    else:
        click.echo(f"wrote {config}")
        click.echo(f"playbooks in {target}: {', '.join(written) or 'kept existing files'}")
    return 0


@click.command("init")
@click.argument("directory", required=False, default=".", type=click.Path(path_type=Path,
                file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout.")
def command(directory, force, as_json) -> int:
    """Scaffold reversal.yaml and the built-in playbooks in DIRECTORY (default: here)."""
    return init(directory, force=force, as_json=as_json)
