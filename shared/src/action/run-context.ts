/** Who is running, from the runner's GITHUB_* variables: the lease holder and the default sha. */
import type { RunContext } from '../result.js';

export function githubRunContext(env: NodeJS.ProcessEnv = process.env): RunContext {
  const runId = env.GITHUB_RUN_ID;
  const runUrl =
    runId && env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY
      ? `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${runId}`
      : undefined;
  return {
    holder: {
      description: runId
        ? `${env.GITHUB_WORKFLOW ?? 'workflow'} run ${runId} attempt ${env.GITHUB_RUN_ATTEMPT ?? '1'}`
        : 'a run outside GitHub Actions',
      ...(env.GITHUB_ACTOR ? { actor: env.GITHUB_ACTOR } : {}),
      ...(runUrl ? { runUrl } : {}),
    },
    ...(env.GITHUB_SHA ? { sha: env.GITHUB_SHA } : {}),
  };
}
