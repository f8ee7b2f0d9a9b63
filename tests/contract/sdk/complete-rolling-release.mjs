// rollingRelease.completeRollingRelease: POST /v1/projects/{idOrName}/rolling-release/complete
import { rollingReleaseCompleteRollingRelease } from "@vercel/sdk/funcs/rollingReleaseCompleteRollingRelease.js";
import { args, core, env, run, value } from "./_client.mjs";

await run(() => value(rollingReleaseCompleteRollingRelease(core, { idOrName: env.projectId, teamId: env.teamId, ...args })));
