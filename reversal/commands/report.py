"""``reversal report``: render an iteration's ``report.html`` (or the campaign's ``index.html``)
again from what is on disk, and optionally open it in a browser."""

from __future__ import annotations

from pathlib import Path

import click


def open_in_browser(path: Path) -> str | None:
    """Open ``path`` in the default browser; a sentence saying why not when there is none."""
    import webbrowser

    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return f"no browser available here (headless?); open {path} yourself."
    if not browser.open(path.resolve().as_uri()):
        return f"the browser did not open; open {path} yourself."
    return None


def report(config_path: Path | None, iteration: str | None, *, open_: bool, as_json: bool) -> int:
    from reversal.config import load_config
    from reversal.evidence.files import write_text
    from reversal.evidence.report import INDEX, render_index, write_pages
    from reversal.iteration.machine import dumps
    from reversal.iteration.store import IterationStore

    config = load_config(config_path)
    books = config.load_playbooks()
    store = IterationStore(config.artifacts)
    if iteration:
        store.load(iteration)  # a clear error when it does not exist
        page = write_pages(store.folder(iteration), books, config.catalogue())
    else:
        page = write_text(store.root / INDEX, render_index(store.root, books))
    index = store.root / INDEX
    problem = open_in_browser(page) if open_ else None
    if as_json:
        click.echo(dumps({"page": str(page), "index": str(index), "opened": open_ and problem is None}))
    else:
        click.echo(str(page))
    if problem:
        click.echo(f"reversal report: {problem}", err=True)
    return 0


@click.command("report")
@click.argument("iteration", required=False)
@click.option("--open", "open_", is_flag=True, help="Open the page in the default browser.")
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="reversal.yaml")
def command(iteration, open_, as_json, config_path) -> int:
    """Render an iteration's report.html again (or, without ITERATION, artifacts/index.html)."""
    return report(config_path, iteration, open_=open_, as_json=as_json)
