// projects.createProjectEnv: POST /v10/projects/{idOrName}/env (models/createprojectenvop.ts)
import { projectsCreateProjectEnv } from "@vercel/sdk/funcs/projectsCreateProjectEnv.js";
import { args, core, env, run, value } from "./_client.mjs";

await run(() => value(projectsCreateProjectEnv(core, { idOrName: env.projectId, teamId: env.teamId, ...args })));
