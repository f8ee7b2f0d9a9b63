// logs.getRuntimeLogs: GET /v1/projects/{projectId}/deployments/{deploymentId}/runtime-logs
// (models/getruntimelogsop.ts). The endpoint streams application/stream+json, one object per
// line; the SDK's generated function JSON.parses the whole body, so it can only read a one-line
// stream. Every line is checked with the SDK's own schema instead, on the same path and headers.
import { GetRuntimeLogsResponseBody$inboundSchema as schema } from "@vercel/sdk/models/getruntimelogsop.js";
import { args, env, run, validated } from "./_client.mjs";

await run(async () => {
  const path = `/v1/projects/${env.projectId}/deployments/${args.deploymentId}/runtime-logs?teamId=${env.teamId}`;
  const { response, parse } = await validated(path, schema, { headers: { accept: "application/stream+json" } });
  const type = response.headers.get("content-type") ?? "";
  if (!type.startsWith("application/stream+json")) throw new Error(`content-type ${type}`);
  const text = await response.text();
  return text.split("\n").filter((line) => line.trim()).map((line) => parse(JSON.parse(line)));
});
