// projects.getProject: GET /v9/projects/{idOrName} (models/getprojectresponsebody.ts)
import { projectsGetProject } from "@vercel/sdk/funcs/projectsGetProject.js";
import { args, core, env, run, value } from "./_client.mjs";

await run(() => value(projectsGetProject(core, { idOrName: env.projectId, teamId: env.teamId, ...args })));
