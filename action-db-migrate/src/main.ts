/** action-db-migrate: migrations applied once, all or nothing, after a verified backup — and database upkeep. */
import '../../shared/src/action/dirname-shim.js';
import { actionInputs, actionLog, reportResult, runAction } from '../../shared/src/action/index.js';
import { githubRunContext } from '../../shared/src/action/run-context.js';
import { cancelOnSignals } from '../../shared/src/cancel.js';
import { runMigrateMode } from '../../shared/src/postgres/migrations/entry.js';

await runAction(async () => {
  const workspace = process.env.GITHUB_WORKSPACE;
  const result = await runMigrateMode(actionInputs, githubRunContext(), {
    log: actionLog,
    signal: cancelOnSignals(),
    ...(workspace ? { workspace } : {}),
  });
  await reportResult(result);
});
