// projects.filterProjectEnvs: GET /v10/projects/{idOrName}/env (models/filterprojectenvsop.ts)
import { projectsFilterProjectEnvs } from "@vercel/sdk/funcs/projectsFilterProjectEnvs.js";
import { args, core, env, run, value } from "./_client.mjs";

await run(() => value(projectsFilterProjectEnvs(core, { idOrName: env.projectId, teamId: env.teamId, ...args })));
