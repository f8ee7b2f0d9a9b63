// rollingRelease.getRollingReleaseConfig: GET /v1/projects/{idOrName}/rolling-release/config
import { rollingReleaseGetRollingReleaseConfig } from "@vercel/sdk/funcs/rollingReleaseGetRollingReleaseConfig.js";
import { args, core, env, run, value } from "./_client.mjs";

await run(() => value(rollingReleaseGetRollingReleaseConfig(core, { idOrName: env.projectId, teamId: env.teamId, ...args })));
