// rollingRelease.getRollingRelease: GET /v1/projects/{idOrName}/rolling-release
import { rollingReleaseGetRollingRelease } from "@vercel/sdk/funcs/rollingReleaseGetRollingRelease.js";
import { args, core, env, run, value } from "./_client.mjs";

await run(() => value(rollingReleaseGetRollingRelease(core, { idOrName: env.projectId, teamId: env.teamId, ...args })));
