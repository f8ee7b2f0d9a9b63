// projects.getProjectEnv: GET /v1/projects/{idOrName}/env/{id} (models/getprojectenvop.ts)
import { projectsGetProjectEnv } from "@vercel/sdk/funcs/projectsGetProjectEnv.js";
import { args, core, env, run, value } from "./_client.mjs";

await run(() => value(projectsGetProjectEnv(core, { idOrName: env.projectId, teamId: env.teamId, ...args })));
