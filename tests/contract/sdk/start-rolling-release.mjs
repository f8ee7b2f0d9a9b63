// rollingRelease.startRollingRelease: POST /v1/projects/{idOrName}/rolling-release/start
import { rollingReleaseStartRollingRelease } from "@vercel/sdk/funcs/rollingReleaseStartRollingRelease.js";
import { args, core, env, run, value } from "./_client.mjs";

await run(() => value(rollingReleaseStartRollingRelease(core, { idOrName: env.projectId, teamId: env.teamId, ...args })));
