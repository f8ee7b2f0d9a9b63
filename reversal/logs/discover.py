"""Signature discovery: mine message templates from failure rows with Drain (``drain3``).

Two phases, so memory stays bounded and the result does not depend on how the input was split:

1. Streaming (``DiscoveryTally``, run by the same parallel export machinery as ``attribute``):
   every failure row (5xx or blank status, or ``error`` level) with a message is masked
   (``reversal.logs.templates.mask``) and counted under its route and *shape* (the masked
   message): rows, distinct requests, first/last seen, catalogue matches, one raw example.
   Masking and catalogue matching are cached per raw message.
2. Mining (``DiscoveryTally.discovery``): per route and family key, the distinct shapes (most
   frequent first) go through Drain; each cluster becomes a template with the summed counts of
   its shapes (details in ``_mine``). A route holding more than ``SHAPE_LIMIT`` shapes is
   compacted the same way while streaming, so memory stays bounded when masking leaves
   variables in (free-text names): its shapes are replaced by their templates.

A template is *covered* by a catalogue signature that matched all its rows, else it is
``new`` (or ``partial``). ``catalogue_entries`` turns the new families into ``signatures:``
entries, each regex validated by re-matching one stored row of every shape of its family
(rows of one shape differ only inside masked variables, which the regex matches by
construction).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reversal.logs.attribution import Tally, is_failure
from reversal.logs.model import normalize_path
from reversal.logs.signatures import Catalogue
from reversal.logs.templates import PARAM, family_name, mask, template_regex

SCHEMA = "reversal.discover/1"
SIM_THRESHOLD = 0.5
"""Drain similarity for joining a cluster: half the tokens equal (masking took the variables)."""
_MASK_CACHE_LIMIT = 50_000
_ABSORB_LIMIT = 300
SHAPE_LIMIT = 20_000
"""Distinct shapes a route may hold while streaming before they are compacted into templates."""
_WILDCARD_RUN = re.compile(re.escape(PARAM) + r"(?:\s+" + re.escape(PARAM) + ")+")
_ROWS, _IDS, _FIRST, _LAST, _EXAMPLE, _COVERED, _UNCOVERED, _KEY = range(8)


class DiscoveryTally(Tally):
    """Per route: failure rows, those without a message, and the stats of every shape."""

    def __init__(self, catalogue: Catalogue) -> None:
        super().__init__(catalogue)
        self._shapes: dict[str, dict[str, list[Any]]] = {}  # route -> shape -> stats
        self._counts: dict[str, list[int]] = {}  # route -> [failure rows, rows without message]
        self._masked: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._limits: dict[str, int] = {}  # route -> shape limit, raised when compacting gains little

    def _compact(self, route: str) -> None:
        """Replace a route's shapes by the templates Drain finds in them (stats merged)."""
        shapes = self._shapes[route] = {text: _merged(group) for text, group in _mine(self._shapes[route])}
        if len(shapes) > self._limits.get(route, SHAPE_LIMIT) // 2:
            self._limits[route] = 2 * self._limits.get(route, SHAPE_LIMIT)

    def _mask(self, message: str) -> tuple[str, tuple[str, ...]]:
        found = self._masked.get(message)
        if found is None:
            if len(self._masked) >= _MASK_CACHE_LIMIT:
                self._masked.clear()
            found = self._masked[message] = mask(message)
        return found

    def _consume(self, rows: Iterable[tuple[tuple, str, int]]) -> None:
        route_of, counts, shapes = self._route_of, self._counts, self._shapes
        signatures_of, masked_of = self._signatures_of, self._mask
        count = 0
        for (path, status, message, level), request_id, ts in rows:
            count += 1
            if status.__class__ is not int:
                status = None
            if not is_failure(status, level):
                continue
            route = route_of.get(path)
            if route is None:
                route = route_of[path] = normalize_path(path)[1]
            tally = counts.get(route)
            if tally is None:
                tally = counts[route] = [0, 0]
                shapes[route] = {}
            tally[0] += 1
            if not message:
                tally[1] += 1
                continue
            shape, key = masked_of(message)
            stats = shapes[route].get(shape)
            if stats is None:
                if len(shapes[route]) >= self._limits.get(route, SHAPE_LIMIT):
                    self._compact(route)
                stats = shapes[route][shape] = [0, set(), ts, ts, message, {}, 0, key]
            stats[_ROWS] += 1
            if request_id:
                stats[_IDS].add(request_id)
            if ts < stats[_FIRST]:  # the example is the earliest row: the same however the file is split
                stats[_FIRST], stats[_EXAMPLE] = ts, message
            elif ts > stats[_LAST]:
                stats[_LAST] = ts
            names = signatures_of(message)
            if names:
                covered = stats[_COVERED]
                for name in names:
                    covered[name] = covered.get(name, 0) + 1
            else:
                stats[_UNCOVERED] += 1
        self.rows += count

    def add_columns(self, columns: Any) -> None:
        """The fast path's columns, row by row."""
        self._consume(zip(columns.shape, columns.request_id, columns.ts, strict=True))

    def merge(self, other: Tally) -> None:
        assert isinstance(other, DiscoveryTally)
        self.rows += other.rows
        for route, (failures, silent) in other._counts.items():
            mine = self._counts.setdefault(route, [0, 0])
            mine[0] += failures
            mine[1] += silent
            shapes = self._shapes.setdefault(route, {})
            for shape, theirs in other._shapes[route].items():
                stats = shapes.get(shape)
                if stats is None:
                    shapes[shape] = theirs
                    continue
                stats[_ROWS] += theirs[_ROWS]
                stats[_IDS] |= theirs[_IDS]
                if theirs[_FIRST] < stats[_FIRST]:
                    stats[_FIRST], stats[_EXAMPLE] = theirs[_FIRST], theirs[_EXAMPLE]
                stats[_LAST] = max(stats[_LAST], theirs[_LAST])
                for name, n in theirs[_COVERED].items():
                    stats[_COVERED][name] = stats[_COVERED].get(name, 0) + n
                stats[_UNCOVERED] += theirs[_UNCOVERED]
            if len(shapes) > self._limits.get(route, SHAPE_LIMIT):
                self._compact(route)

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "_masked": {}}

    def discovery(self) -> Discovery:
        """Phase 2: Drain over the distinct shapes, per route and family key."""
        templates = [_template(route, text, group) for route, shapes in self._shapes.items()
                     for text, group in _mine(shapes)]
        templates = _name_families(templates, self._catalogue.names)
        routes = []
        for route in sorted(self._counts):
            failures, silent = self._counts[route]
            mined = sorted((t for t in templates if t.route == route), key=lambda t: (-t.rows, t.template))
            uncatalogued = sum(t.uncovered for t in mined)
            routes.append(RouteDiscovery(route, failures, silent, uncatalogued, tuple(mined)))
        return Discovery(tuple(self._inputs), self.rows, self._catalogue.names, tuple(routes))


@dataclass(frozen=True)
class Template:
    route: str
    key: tuple[str, ...]
    template: str
    rows: int
    requests: int
    first_ts_ms: int
    last_ts_ms: int
    example: str
    covered: dict[str, int]  # catalogue signature -> rows of this template it matched
    uncovered: int  # rows no catalogue signature matched
    samples: tuple[str, ...] = field(repr=False)  # one raw row per shape, for validation
    family: str = ""

    @property
    def status(self) -> str:
        """``covered`` (a signature matched every row), ``partial`` or ``new``."""
        if any(n == self.rows for n in self.covered.values()):
            return "covered"
        return "partial" if self.covered else "new"

    @property
    def signature(self) -> str:
        """The covering signature's name, or ``new`` / ``partial: name rows/total``."""
        full = [name for name, n in self.covered.items() if n == self.rows]
        if full:
            return ", ".join(full)
        if not self.covered:
            return "new"
        name, n = max(self.covered.items(), key=lambda kv: (kv[1], kv[0]))
        return f"partial: {name} {n}/{self.rows}"

    def to_json(self) -> dict[str, Any]:
        from reversal.evidence.files import utc_iso

        return {
            "family": self.family, "key": list(self.key), "template": self.template,
            "rows": self.rows, "requests": self.requests,
            "first_utc": utc_iso(self.first_ts_ms), "last_utc": utc_iso(self.last_ts_ms),
            "first_ts_ms": self.first_ts_ms, "last_ts_ms": self.last_ts_ms,
            "example": self.example, "catalogue": {"status": self.status, "signature": self.signature,
                                                   "matched_rows": self.covered},
            "uncatalogued_rows": self.uncovered,
        }


@dataclass(frozen=True)
class RouteDiscovery:
    route: str
    failure_rows: int
    rows_without_message: int
    uncatalogued_rows: int  # failure rows with a message that no catalogue signature matched
    templates: tuple[Template, ...]  # most rows first


@dataclass(frozen=True)
class Discovery:
    inputs: tuple[str, ...]
    rows: int
    signature_names: tuple[str, ...]
    routes: tuple[RouteDiscovery, ...]  # sorted by route

    def only(self, routes: Iterable[str]) -> Discovery:
        wanted = set(routes)
        return Discovery(self.inputs, self.rows, self.signature_names,
                         tuple(r for r in self.routes if r.route in wanted))

    def at_least(self, min_count: int) -> Discovery:
        """Only the templates with at least ``min_count`` rows (route counts unchanged)."""
        return replace(self, routes=tuple(
            replace(r, templates=tuple(t for t in r.templates if t.rows >= min_count)) for r in self.routes))

    def templates(self) -> list[Template]:
        return [t for r in self.routes for t in r.templates]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "inputs": list(self.inputs),
            "rows": self.rows,
            "signatures": list(self.signature_names),
            "routes": [{"route": r.route, "failure_rows": r.failure_rows,
                        "rows_without_message": r.rows_without_message,
                        "uncatalogued_failure_rows": r.uncatalogued_rows,
                        "templates": [t.to_json() for t in r.templates]} for r in self.routes],
        }


def _drain() -> Any:
    from drain3.drain import Drain

    return Drain(sim_th=SIM_THRESHOLD, param_str=PARAM)


def _collapse(template: str) -> str:
    """Consecutive wildcards become one: a name of two or five words is the same variable."""
    return _WILDCARD_RUN.sub(PARAM, template)


def _mine(shapes: dict[str, list[Any]]) -> list[tuple[str, list[list[Any]]]]:
    """``(template, stats of its shapes)`` for one route: per family key, Drain over the shapes
    (most rows first), then Drain again over the resulting templates with wildcard runs
    collapsed, which joins clusters Drain kept apart only because a variable spanned a
    different number of words; then ``_absorb``."""
    by_key: dict[tuple[str, ...], list[tuple[str, list[Any]]]] = {}
    for shape, stats in shapes.items():
        by_key.setdefault(stats[_KEY], []).append((shape, stats))
    mined = []
    for group in by_key.values():
        first = _drain()
        members: dict[int, list[list[Any]]] = {}
        for shape, stats in sorted(group, key=lambda kv: (-kv[1][_ROWS], kv[0])):
            cluster, _ = first.add_log_message(shape)
            members.setdefault(cluster.cluster_id, []).append(stats)
        second = _drain()
        groups: dict[int, list[list[Any]]] = {}
        for cluster in sorted(first.clusters, key=lambda c: (-sum(s[_ROWS] for s in members[c.cluster_id]),
                                                             c.get_template())):
            top, _ = second.add_log_message(_collapse(cluster.get_template()))
            groups.setdefault(top.cluster_id, []).extend(members[cluster.cluster_id])
        mined += _absorb([(_collapse(c.get_template()), groups[c.cluster_id]) for c in second.clusters])
    return mined


def _merged(group: list[list[Any]]) -> list[Any]:
    """One shape's stats from several (compaction)."""
    covered: dict[str, int] = {}
    for stats in group:
        for name, n in stats[_COVERED].items():
            covered[name] = covered.get(name, 0) + n
    earliest = min(group, key=lambda s: s[_FIRST])
    return [sum(s[_ROWS] for s in group), set().union(*(s[_IDS] for s in group)), earliest[_FIRST],
            max(s[_LAST] for s in group), earliest[_EXAMPLE], covered, sum(s[_UNCOVERED] for s in group),
            group[0][_KEY]]


def _absorb(clusters: list[tuple[str, list[list[Any]]]]) -> list[tuple[str, list[list[Any]]]]:
    """Fold a template into another whose regex re-matches all its rows (Drain compares only
    messages with as many words: ``workspace: Tim Blais - Gateway`` belongs with ``workspace:
    <*>``). Only into a specific template (three literal words or more, and at least twice as
    many as wildcards): ``Error: job <*>`` would swallow every job error. The smallest go first;
    quadratic, so only for a route's usual handful of templates."""
    if len(clusters) > _ABSORB_LIMIT:
        return clusters
    clusters = sorted(clusters, key=lambda c: (sum(s[_ROWS] for s in c[1]), c[0]))
    regexes = [re.compile(template_regex(text)) if _specific(text) else None for text, _ in clusters]
    alive = list(range(len(clusters)))
    for i in range(len(clusters)):
        samples = [s[_EXAMPLE] for s in clusters[i][1]]
        into = next((j for j in reversed(alive) if j != i and (regex := regexes[j]) is not None
                     and all(regex.search(sample) for sample in samples)), None)
        if into is not None:
            clusters[into][1].extend(clusters[i][1])
            alive.remove(i)
    return [clusters[i] for i in alive]


def _specific(template: str) -> bool:
    tokens = template.split()
    wildcards = tokens.count(PARAM)
    return len(tokens) - wildcards >= max(3, 2 * wildcards)


def _template(route: str, text: str, group: list[list[Any]]) -> Template:
    """The counts of a template: the sums of its shapes'; the example of its commonest shape."""
    total = _merged(group)
    return Template(
        route=route, key=total[_KEY], template=text, rows=total[_ROWS], requests=len(total[_IDS]),
        first_ts_ms=total[_FIRST], last_ts_ms=total[_LAST],
        example=max(group, key=lambda s: s[_ROWS])[_EXAMPLE], covered=total[_COVERED],
        uncovered=total[_UNCOVERED], samples=tuple(s[_EXAMPLE] for s in group),
    )


def _name_families(templates: list[Template], taken: Sequence[str]) -> list[Template]:
    """One name per family: its key, or its template text when it has no key; unique, and
    different from the catalogue's names unless the family is covered."""
    names: dict[tuple[str, ...] | str, str] = {}
    used = set()
    for t in sorted(templates, key=lambda t: (-t.rows, t.route, t.template)):
        family = t.key or t.template
        if family in names:
            continue
        base = family_name(t.key, t.template)
        name, k = base, 2
        while name in used or (name in taken and t.status != "covered"):
            name, k = f"{base}_{k}", k + 1
        names[family] = name
        used.add(name)
    return [replace(t, family=names[t.key or t.template]) for t in templates]


@dataclass(frozen=True)
class Entry:
    """A ``signatures:`` entry for ``reversal.yaml``, validated against its family's rows."""

    name: str
    regex: str
    rows: int  # rows of the family's templates
    matched_rows: int  # of those, rows whose stored sample the regex re-matched
    other_rows: int  # rows of other templates the regex also matches
    routes: dict[str, int]  # route -> rows
    dropped: tuple[str, ...]  # templates left out: no regex of theirs re-matched their rows


def _regex_for(template: Template) -> str | None:
    """The strict regex when it re-matches every sample, else the loose one, else ``None``."""
    for loose in (False, True):
        regex = template_regex(template.template, loose=loose)
        compiled = re.compile(regex)
        if all(compiled.search(sample) for sample in template.samples):
            return regex
    return None


def catalogue_entries(discovery: Discovery, *, min_count: int = 1) -> list[Entry]:
    """Entries for the families with uncatalogued rows and at least ``min_count`` rows in all."""
    families: dict[str, list[Template]] = {}
    for t in discovery.templates():
        if t.uncovered:
            families.setdefault(t.family, []).append(t)
    everything = discovery.templates()
    entries = []
    for name, members in families.items():
        if sum(t.rows for t in members) < min_count:
            continue
        regexes: dict[str, None] = {}
        dropped = []
        for t in members:
            regex = _regex_for(t)
            if regex is None:
                dropped.append(t.template)
            else:
                regexes[regex] = None
        if not regexes:
            continue
        bodies = [r.removeprefix(r"^\s*").removesuffix(r"\s*$") for r in regexes]
        regex = bodies[0] if len(bodies) == 1 else "(?:" + "|".join(bodies) + ")"
        regex = r"^\s*" + regex + r"\s*$"
        compiled = re.compile(regex)
        kept = [t for t in members if t.template not in dropped]
        routes: dict[str, int] = {}
        for t in kept:
            routes[t.route] = routes.get(t.route, 0) + t.rows
        entries.append(Entry(
            name=name, regex=regex, rows=sum(t.rows for t in kept),
            matched_rows=sum(t.rows for t in kept if all(compiled.search(s) for s in t.samples)),
            other_rows=sum(t.rows for t in everything if t.family != name
                           and any(compiled.search(s) for s in t.samples)),
            routes=routes, dropped=tuple(dropped),
        ))
    return sorted(entries, key=lambda e: (-e.rows, e.name))


def discover_files(paths: Sequence[Path], catalogue: Catalogue) -> Discovery:
    """Discovery over several log files of any format (exports take the parallel fast path)."""
    from functools import partial

    from reversal.logs.attribution import tally_files

    return tally_files(paths, partial(DiscoveryTally, catalogue)).discovery()
