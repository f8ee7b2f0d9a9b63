// GET /v6/deployments (what the CLI and reversal call) checked with the SDK's v7 list schema:
// the SDK only calls v7, the two versions answer the same body.
import { GetDeploymentsResponseBody$inboundSchema as schema } from "@vercel/sdk/models/getdeploymentsop.js";
import { args, env, run, validated } from "./_client.mjs";

await run(async () => {
  const query = new URLSearchParams({ projectId: env.projectId, teamId: env.teamId, ...args });
  const { response, parse } = await validated(`/v6/deployments?${query}`, schema);
  return parse(await response.json());
});
