/** action-rotate-secret: rotate · retire-previous · audit of one secret across hosts and GitHub. */
import '../../shared/src/action/dirname-shim.js';
import { actionInputs, actionLog, reportResult, runAction } from '../../shared/src/action/index.js';
import { githubRunContext } from '../../shared/src/action/run-context.js';
import { cancelOnSignals } from '../../shared/src/cancel.js';
import { runSecretMode } from '../../shared/src/secrets/modes.js';

await runAction(async () => {
  const result = await runSecretMode(actionInputs, githubRunContext(), {
    log: actionLog,
    signal: cancelOnSignals(),
  });
  await reportResult(result);
});
