// projects.requestRollback: POST /v1/projects/{projectId}/rollback/{deploymentId} (201, no body)
import { projectsRequestRollback } from "@vercel/sdk/funcs/projectsRequestRollback.js";
import { args, core, env, run, value } from "./_client.mjs";

await run(async () => {
  await value(projectsRequestRollback(core, { projectId: env.projectId, teamId: env.teamId, ...args }));
  return { rolledBack: args.deploymentId };
});
