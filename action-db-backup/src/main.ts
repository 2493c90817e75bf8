/** action-db-backup: backup · verify · restore of a PostgreSQL database, each proven. */
import '../../shared/src/action/dirname-shim.js';
import { actionInputs, actionLog, reportResult, runAction } from '../../shared/src/action/index.js';
import { githubRunContext } from '../../shared/src/action/run-context.js';
import { cancelOnSignals } from '../../shared/src/cancel.js';
import { runBackupMode } from '../../shared/src/postgres/modes.js';

await runAction(async () => {
  const result = await runBackupMode(actionInputs, githubRunContext(), {
    log: actionLog,
    signal: cancelOnSignals(),
  });
  await reportResult(result);
});
