// deployments.getDeployments: GET /v7/deployments (models/getdeploymentsop.ts)
import { deploymentsGetDeployments } from "@vercel/sdk/funcs/deploymentsGetDeployments.js";
import { args, core, env, run, value } from "./_client.mjs";

await run(() => value(deploymentsGetDeployments(core, { projectId: env.projectId, teamId: env.teamId, ...args })));
