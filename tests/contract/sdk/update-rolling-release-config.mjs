// rollingRelease.updateRollingReleaseConfig: PATCH /v1/projects/{idOrName}/rolling-release/config.
// The SDK models no request body, so the CLI's `vercel rr configure` body is sent raw and the
// answer checked with the SDK's response schema.
import { UpdateRollingReleaseConfigResponseBody$inboundSchema } from "@vercel/sdk/models/updaterollingreleaseconfigop.js";
import { args, env, run, validated } from "./_client.mjs";

await run(async () => {
  const path = `/v1/projects/${env.projectId}/rolling-release/config?teamId=${env.teamId}`;
  const { response, parse } = await validated(path, UpdateRollingReleaseConfigResponseBody$inboundSchema,
    { method: "PATCH", body: JSON.stringify(args) });
  return parse(await response.json());
});
