// deployments.getDeployment: GET /v13/deployments/{idOrUrl} (models/getdeploymentresponsebody.ts).
// The SDK accepts the owner view or a reduced public view; the token owner must get the owner view,
// so the raw body is also checked against that member (models/getdeploymentresponsebody1.ts).
import { deploymentsGetDeployment } from "@vercel/sdk/funcs/deploymentsGetDeployment.js";
import { GetDeploymentResponseBody2$inboundSchema as ownerView } from "@vercel/sdk/models/getdeploymentresponsebody1.js";
import { args, core, env, run, validated, value } from "./_client.mjs";

await run(async () => {
  const result = await value(deploymentsGetDeployment(core, { teamId: env.teamId, ...args }));
  const { response, parse } = await validated(`/v13/deployments/${args.idOrUrl}?teamId=${env.teamId}`, ownerView);
  return { ...result, ...parse(await response.json()) };
});
