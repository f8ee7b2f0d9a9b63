// rollingRelease.getRollingReleaseBillingStatus: GET /v1/projects/{idOrName}/rolling-release/billing
import { rollingReleaseGetRollingReleaseBillingStatus } from "@vercel/sdk/funcs/rollingReleaseGetRollingReleaseBillingStatus.js";
import { args, core, env, run, value } from "./_client.mjs";

await run(() => value(rollingReleaseGetRollingReleaseBillingStatus(core, { idOrName: env.projectId, teamId: env.teamId, ...args })));
