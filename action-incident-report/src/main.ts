/** action-incident-report: the post-mortem template filled in from a workflow run. */
import {
  actionInputs,
  actionLog,
  runAction,
  setOutputs,
  writeSummary,
} from '../../shared/src/action/index.js';
import { githubRunContext } from '../../shared/src/action/run-context.js';
import { runWorkflowIncident } from '../../shared/src/incident/from-workflow.js';

await runAction(async () => {
  const result = await runWorkflowIncident(actionInputs, githubRunContext(), { log: actionLog });
  setOutputs(result.outputs);
  await writeSummary(result.summary);
});
