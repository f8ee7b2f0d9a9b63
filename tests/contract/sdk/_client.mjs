// Shared by the per-operation scripts: @vercel/sdk's standalone functions on a VercelCore client
// pointed at the sandbox (the same generated code and zod schemas as the `Vercel` class, without
// loading every operation). Input: SANDBOX_API, VERCEL_TOKEN, VERCEL_TEAM_ID, VERCEL_PROJECT_ID in
// the environment and one JSON argument. Output: one JSON line {ok, result}; a failure prints the
// SDK's own error (zod issues included) and exits 1.
import { VercelCore } from "@vercel/sdk/core.js";

export const env = {
  api: process.env.SANDBOX_API,
  token: process.env.VERCEL_TOKEN,
  teamId: process.env.VERCEL_TEAM_ID,
  projectId: process.env.VERCEL_PROJECT_ID,
};
export const args = JSON.parse(process.argv[2] ?? "{}");
export const core = new VercelCore({ bearerToken: env.token, serverURL: env.api });

// The value of a standalone SDK function's Result, or its error thrown.
export async function value(resultPromise) {
  const result = await resultPromise;
  if (!result.ok) throw result.error;
  return result.value;
}

// A raw call on the same path, its body checked with one of the SDK's generated zod schemas: for
// paths the SDK does not call, and for union members the SDK would let a lesser member satisfy.
export async function validated(path, schema, init = {}) {
  const response = await fetch(env.api + path, {
    ...init,
    headers: { authorization: `Bearer ${env.token}`, "content-type": "application/json", ...(init.headers ?? {}) },
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  return { response, parse: (body) => schema.parse(body) };
}

export async function run(operation) {
  try {
    const result = await operation();
    process.stdout.write(JSON.stringify({ ok: true, result }) + "\n");
  } catch (err) {
    const detail = typeof err?.pretty === "function" ? err.pretty() : String(err?.stack ?? err);
    process.stdout.write(JSON.stringify({ ok: false, name: err?.name, detail }) + "\n");
    process.exit(1);
  }
}
