from pathlib import Path

import pytest
import yaml

from reversal.errors import InputError
from reversal.logs.signatures import BUILTIN
from reversal.playbooks import BUILTIN_DIR, load_playbooks, order, parse_playbook


def _doc(**changes):
    data = yaml.safe_load((BUILTIN_DIR / "response-timing.yaml").read_text())
    data.update(changes)
    return data


def test_builtins_cover_the_seven_slices_with_p0_first():
    books = load_playbooks(None, BUILTIN)
    assert set(books) == {
        "webhooks-email", "background-jobs", "response-timing", "appointment-reconcile",
        "followups", "availability", "emailbison-availability-slot",
    }
    run_order = order(books)
    p0 = {s for s, b in books.items() if b.priority == "P0"}
    assert set(run_order[: len(p0)]) == p0 == {"webhooks-email", "background-jobs", "response-timing"}
    assert books["followups"].after and set(books["followups"].after) == p0
    assert books["webhooks-email"].verify == "passive"
    assert books["background-jobs"].must_be_off == ("BACKGROUND_JOBS_INLINE_EMERGENCY_FALLBACK",)


def test_dispatch_key_follows_the_route_bucket_rule():
    books = load_playbooks(None, BUILTIN)
    at = 1771384784324  # 2026-02-18T03:19:44.324Z, the real post-change probe
    assert books["response-timing"].probe.dispatch.expected_key(at) == "cron:response-timing:2026-02-18T03:15"
    assert books["followups"].probe.dispatch.expected_key(at) == "cron:followups:2026-02-18T03:19"


def test_inbox_route_is_refused_as_keep_sync():
    with pytest.raises(InputError, match="keep-sync"):
        parse_playbook(_doc(route="/api/inbox/conversations"), "x.yaml")


def test_slice_without_rollback_value_is_refused():
    doc = _doc(flag={"name": "CRON_RESPONSE_TIMING_USE_INNGEST", "on": "true"})
    with pytest.raises(InputError, match=r"x\.yaml: field 'flag\.off' is missing"):
        parse_playbook(doc, "x.yaml")


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"window": "soon"}, "field 'window'"),
        ({"kind": "batch"}, "field 'kind'"),
        ({"gate": {"min_drop": 2}}, "field 'gate.min_drop'"),
        ({"target": {"statuses": ["boom"]}}, "field 'target.statuses'"),
        ({"flag": {"name": "X", "on": "true ", "off": "false"}}, "field 'flag.on'"),
    ],
)
def test_bad_fields_are_named(changes, fragment):
    with pytest.raises(InputError, match=fragment):
        parse_playbook(_doc(**changes), "x.yaml")


def test_unknown_signature_and_unknown_after_are_named(tmp_path: Path):
    with pytest.raises(InputError, match="unknown signatures"):
        parse_playbook(_doc(target={"statuses": [500], "signatures": ["nope"]}), "x.yaml", BUILTIN)
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(_doc(after=["ghost"])))
    with pytest.raises(InputError, match="unknown slices"):
        load_playbooks(tmp_path)


def test_dependency_cycle_is_refused(tmp_path: Path):
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(_doc(slice="a", after=["b"])))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(_doc(slice="b", after=["a"])))
    with pytest.raises(InputError, match="cycle"):
        load_playbooks(tmp_path)


@pytest.mark.parametrize(("text", "route"), [
    ("/api/cron/./response-timing", "/api/cron/response-timing"),
    ("https://app.vercel.app/api/cron/x?y=1", "/api/cron/x"),
    ("/api/cron//x/", "/api/cron/x"),
    ("/api/cron/../inbox/conversations", "/api/inbox/conversations"),
    ("/../../api/cron/x", "/api/cron/x"),
])
def test_routes_are_normalised(text, route):
    from reversal.playbooks import route_path

    assert route_path(text, "--route") == route


@pytest.mark.parametrize("text", ["", "   ", "api cron/x", "api/cron/x", "/", "/.."])
def test_routes_that_are_not_paths_are_refused(text):
    from reversal.playbooks import route_path

    with pytest.raises(InputError, match="--route"):
        route_path(text, "--route")


def test_dotdot_cannot_bypass_the_keep_sync_refusal():
    with pytest.raises(InputError, match="keep-sync"):
        parse_playbook(_doc(route="/api/cron/../inbox/conversations"), "x.yaml")


def test_unknown_fields_suggest_the_known_one():
    with pytest.raises(InputError, match=r"unknown field 'onfail' \(did you mean 'on_fail'\?\)"):
        parse_playbook(_doc(onfail="stop"), "x.yaml")
    doc = _doc()
    doc["gate"]["burst"]["minuts"] = 3
    with pytest.raises(InputError, match=r"'gate\.burst\.minuts' \(did you mean 'minutes'\?\)"):
        parse_playbook(doc, "x.yaml")


def test_rollback_mode_is_instant_by_default_and_checked():
    assert parse_playbook(_doc(), "x.yaml").rollback_mode == "instant"
    assert parse_playbook(_doc(rollback_mode="rebuild"), "x.yaml").rollback_mode == "rebuild"
    with pytest.raises(InputError, match=r"x\.yaml: field 'rollback_mode' must be instant or rebuild"):
        parse_playbook(_doc(rollback_mode="fast"), "x.yaml")


def test_the_schema_table_admits_every_builtin():
    """The schema table and the built-in playbooks agree: every section a builtin uses is known,
    and every top-level key of the table is used by some builtin (but the optional ones no
    built-in needs: project-specific safety gates, cron break-glass, early-stop and rollback tuning)."""
    from reversal.playbooks import SCHEMA

    books = [yaml.safe_load(p.read_text()) for p in BUILTIN_DIR.glob("*.yaml")]
    optional = {"gates", "break_glass_cron_change", "early_stop", "min_soak", "rollback_mode"}
    assert set(SCHEMA[""]) - optional == {k for b in books for k in b}


def test_duplicate_keys_are_refused(tmp_path: Path):
    from reversal.playbooks import load_playbook_file

    text = (BUILTIN_DIR / "response-timing.yaml").read_text()
    text = text.replace("window: 30m", "window: 30m\nwindow: 1m")
    (tmp_path / "x.yaml").write_text(text)
    with pytest.raises(InputError, match=r"x\.yaml: not valid YAML at line \d+ \(duplicate key 'window'"):
        load_playbook_file(tmp_path / "x.yaml")


@pytest.mark.parametrize(("section", "key", "value", "field"), [
    ("gate", "alpha", 0.5, "gate.alpha"),
    ("gate", "min_drop", 0, "gate.min_drop"),
    ("probe", "method", "DELETE", "probe.method"),
    ("flag", "name", "CRON_SECRET", "flag.name"),
    ("flag", "name", "STRIPE_API_KEY", "flag.name"),
    ("target", "statuses", [99999], "target.statuses"),
])
def test_ranges_and_names_are_checked(section, key, value, field):
    doc = _doc()
    doc[section][key] = value
    with pytest.raises(InputError, match=rf"field '{field}'"):
        parse_playbook(doc, "x.yaml")


def test_burst_minutes_must_be_at_least_one():
    doc = _doc()
    doc["gate"]["burst"]["minutes"] = 0
    with pytest.raises(InputError, match=r"'gate\.burst\.minutes' must be an integer >= 1"):
        parse_playbook(doc, "x.yaml")
