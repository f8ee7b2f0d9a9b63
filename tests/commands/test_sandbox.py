"""`reversal sandbox serve --json` as a separate process: one JSON line, usable, SIGTERM -> 0."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx


def test_serve_json_prints_one_line_serves_and_exits_0_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "reversal", "sandbox", "serve", "--json", "--factor", "600",
         "--knob", "seed=5", "--knob", "history_s=300"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        info = json.loads(line)
        assert {"api", "logs_api", "app", "token", "project_id", "team_id", "cron_secret", "database_url",
                "env", "inngest_api"} <= set(info)
        env = info["env"]
        for key in ("VERCEL_TOKEN", "VERCEL_PROJECT_ID", "VERCEL_ORG_ID", "REVERSAL_VERCEL_API",
                    "REVERSAL_VERCEL_LOGS_API", "REVERSAL_APP_URL", "CRON_SECRET", "INNGEST_SIGNING_KEY",
                    "DATABASE_URL", "REVERSAL_CLOCK", "REVERSAL_INNGEST_API"):
            assert env[key], key
        r = httpx.get(f"{info['api']}/v10/projects/{info['project_id']}/env",
                      headers={"Authorization": f"Bearer {env['VERCEL_TOKEN']}"})
        assert r.status_code == 200
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out == ""  # exactly one line was printed


def test_bad_knob_is_an_input_error():
    proc = subprocess.run([sys.executable, "-m", "reversal", "sandbox", "serve", "--knob", "nope=1"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "nope=1" in proc.stderr and "Traceback" not in proc.stderr
