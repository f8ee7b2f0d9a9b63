"""The case table: every reproduction of issue 13 and the bad inputs around it, per family.

A case is (id, family, argv, exit code(s), what the message must name, setup, env). Codes
given as a set belong to commands another engineer is rewriting (run, resume, rollback,
status): only the contract (refused, named, no traceback, nothing lost) is pinned there.
"""

from __future__ import annotations

from tests.reliability.builders import (
    DELETE,
    ITERATION,
    book_text,
    config,
    edit,
    export_rows,
    files,
    gz,
    packet,
    playbook,
    real_export_head,
    state_field,
    then,
    truncate,
)
from tests.reliability.harness import Case

ANY_REFUSAL = frozenset({1, 2})
ISOLATED = frozenset({0, 1, 2})  # a corrupt iteration is named; the command may still serve the others

CASES: list[Case] = []


def case(id: str, family: str, argv: str | list[str], code, *names: str, **kw) -> None:
    args = tuple(argv.split()) if isinstance(argv, str) else tuple(argv)
    CASES.append(Case(id, family, args, code, tuple(names), **kw))


# --- inputs: log files ------------------------------------------------------------------------
ROW = export_rows({})
for id, content, *names in [
    ("empty", b"", "the file is empty"),
    ("whitespace-only", b"  \n\t\n", "the file is empty"),
    ("nul-bytes", b"[\x00\x00]", "binary data"),
    ("not-utf8", b"[{\"requestPath\": \"\xff\xfe\"}]", "not UTF-8"),
    ("csv", b"requestPath,timestampInMs\n/a,1\n", "looks like CSV"),
    ("plain-text", b"hello world\n", "line 1 starts with"),
    ("truncated-array", ROW[:-10].encode(), "truncated"),
    ("unclosed-array", ROW[:-1].encode(), "closing ']'"),
    ("row-not-object", b'[{"requestPath":"/a","timestampInMs":1771384000000}, 7]', "row 2"),
    ("row-missing-path", b'[{"timestampInMs":1771384000000}]', "requestPath"),
    ("row-missing-ts", b'[{"requestPath":"/a"}]', "timestampInMs"),
    ("negative-timestamp", export_rows({"timestampInMs": -5}).encode(), "row 1", "timestampInMs"),
    ("timestamp-year-2200", export_rows({"timestampInMs": 7258118400000}).encode(), "row 1", "timestampInMs"),
    ("huge-status", export_rows({}, {"responseStatusCode": 99999999999999999999}).encode(), "row 2",
     "responseStatusCode"),
    ("status-1000", export_rows({"responseStatusCode": 1000}).encode(), "row 1", "responseStatusCode"),
    ("status-negative", export_rows({"responseStatusCode": -7}).encode(), "row 1", "responseStatusCode"),
    ("status-text", export_rows({"responseStatusCode": "err"}).encode(), "responseStatusCode"),
    ("timestamp-float", export_rows({"timestampInMs": 1.5}).encode(), "timestampInMs"),
    ("timestamp-string", export_rows({"timestampInMs": "yesterday"}).encode(), "timestampInMs"),
    ("path-number", export_rows({"requestPath": 5}).encode(), "requestPath"),
    ("ndjson-bad-line", b'{"requestPath":"/a","timestampInMs":1771384000000}\n{"requestPath": oops}\n',
     "line 2"),
    ("ndjson-negative-ts", b'{"requestPath":"/a","timestampInMs":-1}\n', "line 1", "timestampInMs"),
    ("ndjson-huge-status", b'{"requestPath":"/a","timestampInMs":1771384000000,'
     b'"responseStatusCode":99999999999999999999}\n', "line 1"),
    ("request-logs-bad-row", b'{"rows": [7], "hasMoreRows": false}\n', "line 1"),
    ("bad-gzip", b"\x1f\x8b\x08\x00garbage", "gzip"),
    ("gzip-of-garbage", gz(b"hello"), "line 1 starts with"),
    ("gzip-truncated-json", gz(ROW[:-5]), "truncated"),
]:
    case(f"attribute-{id}", "inputs", ["attribute", "{tmp}/in.json"], 2, "{tmp}/in.json", *names,
         setup=files(**{"in.json": content}))
case("attribute-missing-file", "inputs", "attribute {tmp}/nope.json", 2, "nope.json")
case("attribute-directory", "inputs", "attribute {tmp}", 2, "{tmp}")
case("attribute-gzip-export", "inputs", "attribute --json {tmp}/in.json.gz", 0, '"rows": 50',
     setup=files(**{"in.json.gz": gz(real_export_head())}))
case("attribute-real-export", "inputs", "attribute --format md {export}", 0, "/api/cron/response-timing")
case("attribute-ndjson", "inputs", "attribute {ndjson}", 0, "rows")
case("attribute-stdin-pipe", "inputs", "attribute --json /dev/stdin", 0, '"rows": 50', proc=True,
     stdin=real_export_head().encode())
case("attribute-stdin-gzip", "inputs", "attribute --json /dev/stdin", 0, '"rows": 50', proc=True,
     stdin=gz(real_export_head()))
case("attribute-stdin-empty", "inputs", "attribute /dev/stdin", 2, "the file is empty", proc=True, stdin=b"")
case("compare-negative-ts", "inputs", "compare {tmp}/in.json {export} --route /api/cron/response-timing", 2,
     "row 1", setup=files(**{"in.json": export_rows({"timestampInMs": -5})}))
case("compare-huge-status", "inputs", "compare {export} {tmp}/in.json --route /api/cron/response-timing", 2,
     "responseStatusCode", setup=files(**{"in.json": export_rows({"responseStatusCode": 10**20})}))
case("compare-bad-meta", "inputs",
     "compare {export} {export} --route /api/cron/x --baseline-meta {tmp}/m.json", 2, "m.json",
     setup=files(**{"m.json": "{not json"}))
case("compare-meta-wrong-shape", "inputs",
     "compare {export} {export} --route /api/cron/x --post-meta {tmp}/m.json", 2, "m.json",
     setup=files(**{"m.json": "[1, 2]"}))
case("playbooks-export-bad", "inputs", "playbooks --export {tmp}/in.json", 2, "in.json",
     setup=files(**{"in.json": "nope"}))
case("playbooks-export-missing", "inputs", "playbooks --export {tmp}/nope.json", 2, "nope.json")

# --- options ----------------------------------------------------------------------------------
for id, argv, *names in [
    ("capture-since-huge", "capture --since 99999999999d", "--since", "99999999999d"),
    ("capture-since-nan", "capture --since nan", "--since"),
    ("capture-since-zero", "capture --since 0s", "--since"),
    ("capture-since-8d", "capture --since 8d", "--since", "7d"),
    ("capture-since-year-1900", "capture --since 1900-01-01T00:00:00Z", "--since", "2000"),
    ("capture-since-year-9999", "capture --since 9999-12-31T23:59:59Z", "--since"),
    ("capture-until-before-since", "capture --since 10m --until 30m", "--since"),
    ("capture-since-garbage", "capture --since yesterday", "--since"),
    ("durable-poll-negative", "durable check --route response-timing --poll -1", "--poll"),
    ("durable-poll-nan", "durable check --route response-timing --poll nan", "--poll"),
    ("durable-poll-zero", "durable check --route response-timing --poll 0", "--poll"),
    ("durable-poll-inf", "durable check --route response-timing --poll inf", "--poll"),
    ("durable-timeout-negative", "durable check --route response-timing --timeout -1", "--timeout"),
    ("durable-timeout-nan", "durable check --route response-timing --timeout nan", "--timeout"),
    ("durable-timeout-huge", "durable check --route response-timing --timeout 99999999999d", "--timeout"),
    ("durable-growth-zero", "durable check --route response-timing --growth-interval 0", "--growth-interval"),
    ("durable-unknown-route", "durable check --route nope", "nope"),
    ("durable-inngest-since-huge", "durable inngest --since 99999999999d", "--since"),
    ("durable-inngest-until-before", "durable inngest --since 10m --until 30m", "--until"),
    ("probe-timeout-negative", "probe --route response-timing --timeout -1", "--timeout"),
    ("probe-timeout-nan", "probe --route response-timing --timeout nan", "--timeout"),
    ("probe-timeout-inf", "probe --route response-timing --timeout inf", "--timeout"),
    ("probe-timeout-zero", "probe --route response-timing --timeout 0", "--timeout"),
    ("probe-app-url-ipv6", "probe --route response-timing --app-url http://[::1", "http://[::1"),
    ("probe-app-url-ftp", "probe --route response-timing --app-url ftp://x", "ftp://x"),
    ("probe-app-url-port", "probe --route response-timing --app-url http://h:99999", "http://h:99999"),
    ("probe-expect-bad", "probe --route response-timing --expect maybe", "--expect"),
    ("probe-unknown-route", "probe --route nope", "nope"),
    ("compare-route-spaces", ["compare", "{export}", "{export}", "--route", "api cron/../x"], "--route"),
    ("compare-barometer-empty", ["compare", "{export}", "{export}", "--route", "/api/cron/x",
                                 "--barometer", ""], "--barometer"),
    ("compare-status-huge", "compare {export} {export} --route /api/cron/x --status 99999", "--status"),
    ("compare-status-text", "compare {export} {export} --route /api/cron/x --status abc", "--status"),
    ("compare-no-route", "compare {export} {export}", "--route"),
    ("compare-format-bad", "compare {export} {export} --route /a --format xml", "--format"),
    ("compare-playbook-unknown", "compare {export} {export} --playbook nope", "--playbook"),
    ("attribute-format-bad", "attribute {export} --format xml", "--format"),
    ("attribute-no-input", "attribute", "EXPORTS"),
    ("sandbox-factor-negative", "sandbox serve --factor -1", "--factor"),
    ("sandbox-factor-nan", "sandbox serve --factor nan", "--factor"),
    ("sandbox-knob-unknown", "sandbox serve --knob nope=1", "nope"),
    ("sandbox-knob-no-equals", "sandbox serve --knob seed", "seed"),
    ("sandbox-knob-bad-number", "sandbox serve --knob seed=abc", "seed"),
    ("unknown-command", "frobnicate", "frobnicate"),
    ("unknown-option", "status --frob", "--frob"),
    ("env-audit-unknown-option", "env audit --frob", "--frob"),
    ("verify-unknown-iteration", "verify nope", "nope"),
    ("abandon-unknown-iteration", "abandon nope --reason x --yes", "nope"),
    ("abandon-unknown-option", "abandon --frob", "--frob"),
    ("unlock-unknown-option", "unlock --frob", "--frob"),
    ("report-unknown-iteration", "report nope", "nope"),
    ("report-unknown-option", "report --frob", "--frob"),
    ("signatures-discover-no-input", "signatures discover", "EXPORT"),
    ("signatures-discover-format-bad", "signatures discover {export} --format xml", "--format"),
    ("signatures-discover-min-count-zero", "signatures discover {export} --min-count 0", "--min-count"),
    ("signatures-discover-missing-file", "signatures discover nope.json", "nope.json"),
    ("verify-traversal", "verify ..", "'..'"),
    ("run-window-huge", "run --route response-timing --window 99999999999d --dry-run", "99999999999d"),
    ("run-window-zero", "run --route response-timing --window 0 --dry-run", "0"),
    ("run-window-nan", "run --route response-timing --window nan --dry-run", "nan"),
    ("run-unknown-route", "run --route nope --dry-run", "nope"),
    ("rollback-unknown-route", "rollback --route nope --yes", "nope"),
]:
    case(id, "options", argv, 2, *names)
for id, knob in [
    ("keyvalue", "host=127.0.0.1 port=1 user=admin password={pw} dbname=ledger"),
    ("double-at", "postgres//admin:{pw}@@h:p/db"),
    ("schemeless", "admin:{pw}@host/db"),
    ("sqlite-userinfo", "sqlite://admin:{pw}@/x"),
    ("broken-ipv6", "postgresql://admin:{pw}@[::1:1/x"),
    ("bad-port", "postgresql://admin:{pw}@h:99999/x"),
]:
    from tests.reliability.harness import CANARY_DB_PASSWORD

    case(f"sandbox-knob-dsn-{id}", "options",
         ["sandbox", "serve", "--knob", "database_url=" + knob.format(pw=CANARY_DB_PASSWORD)], 2,
         "database_url")

# --- env: variables ---------------------------------------------------------------------------
for id, dsn, code, name in [
    ("keyvalue", "host=127.0.0.1 port=1 user=admin password={pw} dbname=ledger", 2, "database URL"),
    ("keyvalue-quoted", "host=127.0.0.1 port=1 user=admin password='{pw}' dbname=ledger", 2, "database URL"),
    ("double-at", "postgres//admin:{pw}@@h:p/db", 2, "database URL"),
    ("schemeless", "admin:{pw}@host/db", 2, "database URL"),
    ("sqlite-userinfo", "sqlite://admin:{pw}@/x", 2, "database URL"),
    ("broken-ipv6", "postgresql://admin:{pw}@[::1:1/x", 2, "DATABASE_URL"),
    ("bad-port", "postgresql://admin:{pw}@h:99999/x", 2, "DATABASE_URL"),
    ("url-refused", "postgresql://admin:{pw}@127.0.0.1:1/ledger", 1, "run ledger"),
    ("url-encoded", "postgresql://admin:{pw}%40x@127.0.0.1:1/ledger?sslmode=disable", 1, "run ledger"),
    ("mysql", "mysql://admin:{pw}@127.0.0.1:1/ledger", 2, "database URL"),
]:
    from tests.reliability.harness import CANARY_DB_PASSWORD

    case(f"durable-dsn-{id}", "env", "durable check --route response-timing --no-wait", code, name,
         env={"DATABASE_URL": dsn.format(pw=CANARY_DB_PASSWORD)})
case("durable-dsn-unset", "env", "durable check --route response-timing", 2, "DATABASE_URL",
     env={"DATABASE_URL": None})
case("durable-inngest-no-key", "env", "durable inngest --since 30m", 2, "INNGEST_SIGNING_KEY",
     env={"INNGEST_SIGNING_KEY": None})
case("durable-inngest-refused", "env", "durable inngest --since 30m", 1, "Inngest")
case("env-audit-no-org", "env", "env audit", 2, "VERCEL_ORG_ID")
case("env-audit-no-token", "env", "env audit", 2, "VERCEL_TOKEN", env={"VERCEL_TOKEN": None})
case("capture-no-project", "env", "capture --since 30m", 2, "VERCEL_PROJECT_ID",
     env={"VERCEL_PROJECT_ID": None})
case("probe-app-url-env-bad", "env", "probe --route response-timing", 2, "REVERSAL_APP_URL",
     env={"REVERSAL_APP_URL": "http://[::1"})
case("probe-no-app-url", "env", "probe --route response-timing", 2, "REVERSAL_APP_URL",
     env={"REVERSAL_APP_URL": None})
case("probe-refused", "env", "probe --route response-timing", 1, "Connection refused")
case("artifacts-env-empty", "env", "status", 2, "REVERSAL_ARTIFACTS", env={"REVERSAL_ARTIFACTS": ""})
case("artifacts-env-file", "env", "playbooks", 2, "REVERSAL_ARTIFACTS",
     env={"REVERSAL_ARTIFACTS": "{tmp}/afile"}, setup=files(afile="x"))
case("vercel-api-env-bad", "env", "env audit", 2, "vercel", env={"REVERSAL_VERCEL_API": "not a url",
                                                                   "VERCEL_ORG_ID": "team_x"})
for id, env, setup, name in [
    ("env-file-missing", {"REVERSAL_ENV_FILE": "nope", "CRON_SECRET": None}, None, "nope"),
    ("env-file-dir", {"REVERSAL_ENV_FILE": "{tmp}", "CRON_SECRET": None}, None, "{tmp}"),
    ("env-file-whitespace", {"REVERSAL_ENV_FILE": "e.env", "CRON_SECRET": None},
     files(**{"e.env": 'CRON_SECRET=" canaryCRON-4d2e8b6a1f "\n'}), "whitespace"),
    ("env-file-not-utf8", {"REVERSAL_ENV_FILE": "e.env", "CRON_SECRET": None},
     files(**{"e.env": b"\xff\xfe"}), "UTF-8"),
    ("clock-garbage", {"REVERSAL_CLOCK": "x:nan"}, None, "REVERSAL_CLOCK"),
]:
    case(f"probe-{id}", "env", "probe --route response-timing", 2, name, env=env, setup=setup)
case("project-json-corrupt", "env", "env audit", 2, "project.json",
     setup=files(**{".vercel__project.json": "{"}))

# --- config: reversal.yaml --------------------------------------------------------------------
for id, text, *names in [
    ("unknown-key", "projct_id: x\n", "projct_id", "did you mean 'project_id'"),
    ("unknown-key-far", "colour: blue\n", "colour"),
    ("duplicate-key", "project_id: a\nproject_id: b\n", "duplicate key", "line 2"),
    ("environment-staging", "environment: staging\n", "environment", "production"),
    ("playbooks-dir-missing", "playbooks_dir: nope\n", "playbooks_dir", "nope"),
    ("playbooks-dir-empty", "playbooks_dir: empty\n", "no playbooks"),
    ("artifacts-is-file", "artifacts: afile\n", "afile"),
    ("not-a-mapping", "- a\n- b\n", "mapping"),
    ("invalid-yaml", "project_id: [\n", "not valid YAML"),
    ("tab-indent", "project_id:\n\t- x\n", "not valid YAML"),
    ("secrets-not-list", "secrets: CRON_SECRET\n", "secrets"),
    ("secrets-bad-name", "secrets: ['not a name']\n", "secrets"),
    ("signatures-not-mapping", "signatures: [a]\n", "signatures"),
    ("signatures-bad-regex", "signatures: {mine: '(unclosed'}\n", "mine"),
    ("database-url-env-bad", "database_url_env: 'a b'\n", "database_url_env"),
    ("vercel-api-not-url", "vercel_api: api.vercel.com\n", "vercel_api"),
    ("project-id-number", "project_id: 5\n", "project_id"),
    ("bad-date-scalar", "project_id: 2026-02-30\n", "not valid YAML"),
    ("alias-bomb", "a: &a [x, x]\nb: &b [*a, *a]\nproject_id: *b\n", "project_id"),
]:
    extra = {"afile": "x", "empty__.keep": ""} if id in ("artifacts-is-file", "playbooks-dir-empty") else {}
    case(f"config-{id}", "config", "playbooks", 2, "reversal.yaml" if id not in (
        "artifacts-is-file", "playbooks-dir-empty") else names[0], *names,
         setup=files(**{"reversal.yaml": text}, **extra))
case("config-not-utf8", "config", "playbooks", 2, "UTF-8", setup=files(**{"reversal.yaml": b"a: \xff\n"}))
case("config-flag-missing", "config", "playbooks --config {tmp}/nope.yaml", 2, "nope.yaml")
case("config-is-dir", "config", "status --config {tmp}", 2, "{tmp}")
case("config-artifacts-proc", "config", "verify", frozenset({0, 1}), "/proc/1",
     setup=config("artifacts: /proc/1\n"))
case("config-artifacts-proc-playbooks", "config", "playbooks", 0, "response-timing",
     setup=config("artifacts: /proc/1\n"))
case("probe-out-proc", "filesystem", "probe --route response-timing --out /proc/1/x.json", 1, "/proc/1")
case("config-artifacts-proc-status", "config", "status", frozenset({0, 1, 2}), "",
     setup=config("artifacts: /proc/1\n"))
case("config-unknown-in-attribute", "config", "attribute {export}", 2, "projct_id",
     setup=config("projct_id: x\n"))
case("config-unknown-in-verify", "config", "verify", 2, "projct_id", setup=config("projct_id: x\n"))
case("config-unknown-in-compare", "config", "compare {export} {export} --route /api/cron/x", 2, "projct_id",
     setup=config("projct_id: x\n"))

# --- playbooks ----------------------------------------------------------------------------------
for id, changes, *names in [
    ("unknown-top-key", {"onfail": "stop"}, "onfail", "did you mean 'on_fail'"),
    ("unknown-gate-key", {"gate__burts": {"minutes": 3}}, "gate.burts", "did you mean 'burst'"),
    ("unknown-flag-key", {"flag__of": "false"}, "flag.of"),
    ("unknown-probe-key", {"probe__methd": "GET"}, "probe.methd"),
    ("route-dotdot-inbox", {"route": "/api/cron/../inbox/conversations"}, "/api/inbox/conversations",
     "keep-sync"),
    ("route-inbox", {"route": "/api/inbox/counts"}, "keep-sync"),
    ("route-not-eligible", {"route": "/api/users"}, "route"),
    ("route-relative", {"route": "api/cron/x"}, "route"),
    ("route-spaces", {"route": "/api/cron/a b"}, "route"),
    ("burst-minutes-zero", {"gate__burst__minutes": 0}, "gate.burst.minutes"),
    ("burst-per-minute-negative", {"gate__burst__per_minute": -1}, "gate.burst.per_minute"),
    ("min-drop-zero", {"gate__min_drop": 0}, "gate.min_drop"),
    ("min-drop-above-one", {"gate__min_drop": 1.5}, "gate.min_drop"),
    ("min-drop-nan", {"gate__min_drop": float("nan")}, "gate.min_drop"),
    ("alpha-half", {"gate__alpha": 0.5}, "gate.alpha"),
    ("alpha-zero", {"gate__alpha": 0}, "gate.alpha"),
    ("alpha-text", {"gate__alpha": "small"}, "gate.alpha"),
    ("barometer-empty", {"gate__barometers": [""]}, "gate.barometers"),
    ("barometer-relative", {"gate__barometers": ["api/inbox/x"]}, "gate.barometers"),
    ("flag-cron-secret", {"flag__name": "CRON_SECRET"}, "flag.name", "secret"),
    ("flag-token", {"flag__name": "MY_API_TOKEN"}, "flag.name"),
    ("flag-signing-key", {"flag__name": "INNGEST_SIGNING_KEY"}, "flag.name"),
    ("flag-name-spaces", {"flag__name": "MY FLAG"}, "flag.name"),
    ("flag-off-missing", {"flag__off": DELETE}, "flag.off"),
    ("flag-on-equals-off", {"flag__on": "false"}, "flag.off"),
    ("flag-value-whitespace", {"flag__on": "true\n"}, "flag.on"),
    ("method-delete", {"probe__method": "DELETE"}, "probe.method"),
    ("status-99999", {"target__statuses": [500, 99999]}, "target.statuses"),
    ("status-text", {"target__statuses": ["five hundred"]}, "target.statuses"),
    ("dispatch-status-bad", {"probe__dispatch__status": 99999}, "probe.dispatch.status"),
    ("inline-status-zero", {"probe__inline__status": 0}, "probe.inline.status"),
    ("window-huge", {"window": "99999999999d"}, "window"),
    ("window-zero", {"window": "0s"}, "window"),
    ("window-negative", {"window": -5}, "window"),
    ("durable-timeout-nan", {"durable__timeout": "nan"}, "durable.timeout"),
    ("kind-bad", {"kind": "queue"}, "kind"),
    ("priority-bad", {"priority": "high"}, "priority"),
    ("slice-bad", {"slice": "Response Timing"}, "slice"),
    ("after-unknown", {"after": ["nope"]}, "nope"),
    ("after-self-cycle", {"after": ["response-timing"]}, "cycle"),
    ("signature-unknown", {"target__signatures": ["nope"]}, "nope"),
    ("gate-not-mapping", {"gate": [1]}, "gate"),
    ("route-missing", {"route": DELETE}, "route"),
]:
    case(f"playbook-{id}", "playbooks", "playbooks", 2, "response-timing.yaml", *names,
         setup=playbook(**changes))
for id, raw, *names in [
    ("duplicate-key", book_text(**{"on_fail: rollback": "on_fail: rollback\non_fail: stop"}),
     "duplicate key"),
    ("duplicate-nested-key", book_text(**{"min_drop: 0.8": "min_drop: 0.8\n  min_drop: 0.1"}), "min_drop"),
    ("invalid-yaml", "slice: [\n", "not valid YAML"),
    ("not-mapping", "- a\n", "mapping"),
    ("empty-file", "", "mapping"),
]:
    case(f"playbook-raw-{id}", "playbooks", "playbooks", 2, "response-timing.yaml", *names,
         setup=playbook(raw=raw))
case("playbook-bad-in-run", "playbooks", "run --route response-timing --dry-run", 2, "gate.alpha",
     setup=playbook(gate__alpha=0.9))
case("playbook-bad-in-compare", "playbooks",
     "compare {export} {export} --playbook {tmp}/playbooks/response-timing.yaml",
     2, "probe.method", setup=playbook(probe__method="PUT"))
case("playbook-bad-in-probe", "playbooks", "probe --route response-timing", 2, "onfail",
     setup=playbook(onfail="stop"))
case("playbook-bad-in-durable", "playbooks", "durable check --route response-timing", 2, "gate.burst.minutes",
     setup=playbook(gate__burst__minutes=0))
case("playbook-duplicate-slice", "playbooks", "playbooks", 2, "already defined", setup=then(
    playbook(), files(**{"playbooks__copy.yaml": book_text()})))

# --- state and evidence packets -------------------------------------------------------------------
STATE = f"artifacts/{ITERATION}/state.json"
VERDICT = f"artifacts/{ITERATION}/verdict-response-timing-{ITERATION}.json"
case("verify-clean", "state", "verify", 0, "verifies", setup=packet())
case("verify-clean-one", "state", f"verify {ITERATION}", 0, "verifies", setup=packet())
case("verify-clean-json", "state", "verify --json", 0, '"ok": true', setup=packet())
case("verify-sed-verdict", "state", "verify", 1, "verdict-response-timing", "sha256",
     "state.json recorded PASS",
     setup=then(packet(), edit(VERDICT, "PASS", "FAIL")))
case("verify-sed-state", "state", "verify", 1, "state.json", "timeline.md",
     setup=then(packet(), edit(STATE, '"passed"', '"failed"')))
case("verify-sed-timeline", "state", "verify", 1, "timeline.md",
     setup=then(packet(), edit(f"artifacts/{ITERATION}/timeline.md", "**PASS**", "**FAIL**")))
case("verify-deleted-file", "state", "verify", 1, "timeline.md", "missing",
     setup=then(packet(), lambda tmp: (tmp / f"artifacts/{ITERATION}/timeline.md").unlink()))
case("verify-added-file", "state", "verify", 1, "extra.json", "not listed",
     setup=then(packet(), files(**{f"artifacts__{ITERATION}__extra.json": "{}"})))
case("verify-manifest-corrupt", "state", "verify", 1, "manifest.json",
     setup=then(packet(), truncate(f"artifacts/{ITERATION}/manifest.json", 10)))
case("verify-state-truncated", "state", "verify", 1, "state.json",
     setup=then(packet(), truncate(STATE, 20)))
case("verify-other-packets-still-checked", "state", "verify", 1, "state.json", "other-2026", setup=then(
    packet(), packet(iteration="other-2026-02-18T04-00-00Z"), truncate(STATE, 20)))
case("verify-run-log-appended", "state", "verify", 0, "verifies", setup=then(
    packet(), lambda tmp: (tmp / f"artifacts/{ITERATION}/run.log").open("a").write("{}\n")))
for command in ("status", f"status {ITERATION}", "status --json", "playbooks", "resume",
                f"resume {ITERATION} --accept ok", "rollback --route response-timing --yes"):
    slug = "-".join(command.replace(ITERATION, "it").split())
    case(f"state-truncated-{slug}", "state", command, ISOLATED, setup=then(packet(), truncate(STATE, 20)))
    case(f"state-status-5-{slug}", "state", command, ISOLATED, setup=then(packet(), state_field(status=5)))
case("state-not-object", "state", f"status {ITERATION}", ISOLATED, "state.json",
     setup=then(packet(), files(**{f"artifacts__{ITERATION}__state.json": "[]"})))
case("state-unknown-step", "state", f"status {ITERATION}", ISOLATED, "step",
     setup=then(packet(), state_field(step="teleport")))
case("state-wrong-version", "state", f"status {ITERATION}", ISOLATED, "version",
     setup=then(packet(), state_field(version=99)))
case("state-extra-field", "state", f"status {ITERATION}", ISOLATED, "state.json",
     setup=then(packet(), state_field(surprise=1)))
case("resume-extend-huge", "state", f"resume {ITERATION} --extend 99999999999d", 2, "99999999999d",
     setup=packet(verdict="INCONCLUSIVE", status="inconclusive"))
case("resume-extend-nan", "state", f"resume {ITERATION} --extend nan", 2, "nan",
     setup=packet(verdict="INCONCLUSIVE", status="inconclusive"))
case("resume-unknown-iteration", "state", "resume nope", 2, "nope")

# --- filesystem -------------------------------------------------------------------------------------
case("init-under-a-file", "filesystem", "init afile/sub", 2, "afile/sub", setup=files(afile="x"))
case("init-onto-a-file", "filesystem", "init afile", 2, "afile", setup=files(afile="x"))
case("init-twice", "filesystem", "init .", 2, "already exists", setup=files(**{"reversal.yaml": "{}\n"}))
case("init-fresh", "filesystem", "init fresh", 0, "wrote")
case("durable-out-under-file", "filesystem", "durable inngest --since 30m --out afile/x.json", 2,
     "afile is a file", setup=files(afile="x"))
case("durable-check-out-is-dir", "filesystem", "durable check --route response-timing --out {tmp}", 2,
     "is a directory")
case("capture-out-under-file", "filesystem", "capture --since 30m --out afile/deep/x.json", 2,
     "afile is a file", setup=files(afile="x"))
case("env-audit-out-under-file", "filesystem", "env audit --out afile/x.json", 2, "afile is a file",
     setup=files(afile="x"))
case("probe-out-under-file", "filesystem", "probe --route response-timing --out afile/x.json", 2,
     "afile is a file", setup=files(afile="x"))
case("probe-out-is-dir", "filesystem", "probe --route response-timing --out {tmp}", 2, "{tmp}")
case("artifacts-file-for-verify", "filesystem", "verify", 2, "afile", setup=then(
    files(afile="x"), config("artifacts: afile\n")))
case("verify-no-artifacts", "filesystem", "verify", 0, "no iterations")
case("status-no-artifacts", "filesystem", "status", 0, "no iterations")
