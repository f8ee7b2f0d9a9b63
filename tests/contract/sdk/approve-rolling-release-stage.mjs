// rollingRelease.approveRollingReleaseStage: POST /v1/projects/{idOrName}/rolling-release/approve-stage
import { rollingReleaseApproveRollingReleaseStage } from "@vercel/sdk/funcs/rollingReleaseApproveRollingReleaseStage.js";
import { args, core, env, run, value } from "./_client.mjs";

await run(() => value(rollingReleaseApproveRollingReleaseStage(core, { idOrName: env.projectId, teamId: env.teamId, ...args })));
