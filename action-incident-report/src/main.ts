/** action-incident-report: the post-mortem template filled in from a workflow run. */
import '../../shared/src/action/dirname-shim.js';
import { actionInputs, actionLog, reportResult, runAction } from '../../shared/src/action/index.js';
import { githubRunContext } from '../../shared/src/action/run-context.js';
import { runWorkflowIncident } from '../../shared/src/incident/from-workflow.js';

await runAction(async () => {
  const result = await runWorkflowIncident(actionInputs, githubRunContext(), { log: actionLog });
  await reportResult(result);
});
