// projects.editProjectEnv: PATCH /v9/projects/{idOrName}/env/{id} (models/editprojectenvop.ts)
import { projectsEditProjectEnv } from "@vercel/sdk/funcs/projectsEditProjectEnv.js";
import { args, core, env, run, value } from "./_client.mjs";

await run(() => value(projectsEditProjectEnv(core, { idOrName: env.projectId, teamId: env.teamId, ...args })));
