/** action-health: verify a deployment is alive, healthy and serving the expected release. */
import { actionInputs, actionLog, reportResult, runAction } from '../../shared/src/action/index.js';
import { runHealth } from '../../shared/src/health/run.js';

await runAction(async () => reportResult(await runHealth(actionInputs, { log: actionLog })));
