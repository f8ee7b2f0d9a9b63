// deployments.createDeployment: POST /v13/deployments (models/createdeploymentresponsebody.ts).
// As for getDeployment, the raw answer of a second, identical request must be the owner view
// (CreateDeploymentResponseBody2).
import { deploymentsCreateDeployment } from "@vercel/sdk/funcs/deploymentsCreateDeployment.js";
import { CreateDeploymentResponseBody2$inboundSchema as ownerView } from "@vercel/sdk/models/createdeploymentresponsebody.js";
import { args, core, env, run, validated, value } from "./_client.mjs";

await run(async () => {
  const result = await value(deploymentsCreateDeployment(core, { teamId: env.teamId, ...args }));
  const init = { method: "POST", body: JSON.stringify(args.requestBody) };
  const { response, parse } = await validated(`/v13/deployments?teamId=${env.teamId}`, ownerView, init);
  return { sdk: result, raw: parse(await response.json()) };
});
