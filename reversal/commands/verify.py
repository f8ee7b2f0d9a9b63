"""``reversal verify [ITERATION]``: is each evidence packet still what the run recorded?

Checks the manifest hashes and that ``state.json``, ``timeline.md`` and ``verdict-*.json``
agree (``reversal.evidence.verify``). Exit 0 when every packet verifies, 1 naming each file
that does not, 2 for an iteration that does not exist.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from reversal.errors import EXIT_FAIL, EXIT_OK, InputError


def verify(config_path: Path | None, iteration: str | None, *, as_json: bool) -> int:
    from reversal.config import load_config
    from reversal.evidence.verify import MANIFEST, STATE, verify_packet

    root = load_config(config_path).artifacts
    if iteration is not None:
        if not iteration or "/" in iteration or iteration in (".", "..") or not (root / iteration).is_dir():
            raise InputError(f"iteration {iteration!r}: no such folder under {root}; 'reversal status' "
                             "lists the iterations.")
        folders = [root / iteration]
    else:
        folders = sorted(p for p in root.iterdir() if p.is_dir() and (
            (p / STATE).exists() or (p / MANIFEST).exists())) if root.is_dir() else []
    results = {f.name: verify_packet(f) for f in folders}
    bad = {name: problems for name, problems in results.items() if problems}
    if as_json:
        click.echo(json.dumps({"root": str(root), "ok": not bad, "iterations": {
            name: {"ok": not problems, "problems": [{"file": p.file, "reason": p.reason} for p in problems]}
            for name, problems in results.items()}}, indent=2))
    else:
        if not folders:
            click.echo(f"no iterations under {root}")
        for name, problems in results.items():
            click.echo(f"{name}: {'verifies' if not problems else 'DOES NOT VERIFY'}")
            click.echo("".join(f"  - {root / name / p.file}: {p.reason}\n" for p in problems), nl=False)
    if bad:
        click.echo(f"reversal: {sum(map(len, bad.values()))} problem(s) in {', '.join(bad)}: the evidence "
                   "was changed after the run, or the run was interrupted before its last save.", err=True)
        return EXIT_FAIL
    return EXIT_OK


@click.command("verify")
@click.argument("iteration", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="reversal.yaml (default: ./reversal.yaml).")
def command(iteration: str | None, as_json: bool, config_path: Path | None) -> int:
    """Check evidence packets (all by default): every file's sha256 against manifest.json, and
    that state.json, timeline.md and verdict-*.json agree. Exit 0 when they verify, 1 naming
    each mismatching file."""
    return verify(config_path, iteration, as_json=as_json)
