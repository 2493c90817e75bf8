/**
 * The suite's one GitHub REST client: @actions/github's Octokit with the retry plugin (5xx, network)
 * and the throttling plugin (primary and secondary rate limits: wait as GitHub asks, within
 * `maxWaitMs`), every request bounded. Loaded only when a token is given: it costs start-up time
 * every other run would pay. GitHub Enterprise Server: `apiUrl` is `https://HOST/api/v3`.
 */
import type { Log } from '../log.js';

export interface GithubConnection {
  token: string;
  /** The REST API root: GITHUB_API_URL on the runner. */
  apiUrl: string;
  /** The longest a rate limit may make us wait before giving up. */
  maxWaitMs: number;
  /** How long one request may take (plus any rate-limit wait, up to maxWaitMs). */
  requestTimeoutMs: number;
}

export type GithubRequest = (
  route: string,
  params: Record<string, unknown>,
) => Promise<{ status: number; data: unknown }>;

export async function openGithubRequest(target: GithubConnection, log: Log): Promise<GithubRequest> {
  const [{ getOctokit }, { retry }, { throttling }] = await Promise.all([
    import('@actions/github'),
    import('@octokit/plugin-retry'),
    import('@octokit/plugin-throttling'),
  ]);
  const maxWaitS = target.maxWaitMs / 1000;
  const onLimit =
    (kind: string) =>
    (
      retryAfter: number,
      options: { method?: string; url?: string },
      _octokit: unknown,
      retryCount: number,
    ) => {
      if (retryCount >= 3 || retryAfter > maxWaitS) {
        log.warn(
          `GitHub ${kind} on ${options.method} ${options.url}: it asks to wait ${retryAfter} s, more than this run waits (${retryCount >= 3 ? '3 retries used' : `github-max-wait ${maxWaitS} s`})`,
        );
        return false;
      }
      log.warn(`GitHub ${kind} on ${options.method} ${options.url}: waiting ${retryAfter} s as GitHub asks`);
      return true;
    };
  const octokit = getOctokit(
    target.token,
    {
      baseUrl: target.apiUrl.replace(/\/+$/, ''),
      throttle: {
        onRateLimit: onLimit('rate limit'),
        onSecondaryRateLimit: onLimit('secondary rate limit'),
      },
      // 403 and 429 belong to the throttling plugin (rate limits); 5xx and network errors are retried
      // 3 times. No `request.retries` here: plugin-retry reads it as "retry whatever failed".
      retry: { doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451] },
    },
    retry,
    throttling,
  );
  // Every request ends: a GitHub that accepts the connection and never answers must not hold the
  // operation (a rotation with a host on the new value) forever. The signal spans the retries of the call.
  return (route, params) =>
    octokit.request(route, {
      ...params,
      request: { signal: AbortSignal.timeout(target.requestTimeoutMs + target.maxWaitMs) },
    });
}
