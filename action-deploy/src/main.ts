/** action-deploy: upload a release, switch to it atomically, prove it healthy, or roll back. */
import '../../shared/src/action/dirname-shim.js';
import { actionInputs, actionLog, reportResult, runAction } from '../../shared/src/action/index.js';
import { githubRunContext } from '../../shared/src/action/run-context.js';
import { cancelOnSignals } from '../../shared/src/cancel.js';
import { runDeploy } from '../../shared/src/releases/run.js';

await runAction(async () =>
  reportResult(
    await runDeploy(actionInputs, githubRunContext(), { log: actionLog, signal: cancelOnSignals() }),
  ),
);
