/**
 * GitHub's record of what is live, kept true: a deployment per release deployed (ref = its sha, the
 * hosts in its payload, `environment_url` = the health URL's site, `log_url` = the run) with statuses
 * `in_progress` → `success` / `failure`; a rollback posts `success` on the deployment of the release
 * it returns to (the active one again) and `inactive` on the one it left. Every call is bounded and a
 * refusal is a warning: GitHub's record never fails or delays the operation it records.
 */
import { errorText } from '../errors.js';
import type { Log } from '../log.js';
import { openGithubRequest, type GithubConnection, type GithubRequest } from './client.js';

export interface DeploymentTarget extends GithubConnection {
  owner: string;
  repo: string;
  environment: string;
  /** The health URL's site, shown by GitHub as the environment's link. */
  environmentUrl?: string;
  /** The run, shown as the deployment's log. */
  logUrl?: string;
}

export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'inactive' | 'error';

interface DeploymentObject {
  id: number;
  sha: string;
  ref: string;
  payload?: unknown;
  created_at?: string;
}

/** GitHub cuts a status description at 140 characters: we do, so that the end is ours. */
export function statusDescription(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length <= 140 ? one : `${one.slice(0, 139)}…`;
}

/** The short sha a release id ends with (`20261130T075100Z-1a2b3c4[-2]`). */
export function releaseSha(release: string): string | undefined {
  return /^\d{8}T\d{6}Z-([0-9a-f]{7})(?:-\d+)?$/.exec(release)?.[1];
}

export class GithubDeployments {
  private constructor(
    private readonly target: DeploymentTarget,
    private readonly request: GithubRequest,
    private readonly log: Log,
  ) {}

  static async open(target: DeploymentTarget, log: Log): Promise<GithubDeployments> {
    return new GithubDeployments(target, await openGithubRequest(target, log), log);
  }

  private get repo(): { owner: string; repo: string } {
    return { owner: this.target.owner, repo: this.target.repo };
  }

  /** A new deployment of `ref` in the environment; undefined (warned) when GitHub refuses. */
  async create(
    ref: string,
    payload: Record<string, unknown>,
    description: string,
  ): Promise<number | undefined> {
    return this.attempt(`record a deployment of ${ref.slice(0, 7)}`, async () => {
      const { data } = await this.request('POST /repos/{owner}/{repo}/deployments', {
        ...this.repo,
        ref,
        environment: this.target.environment,
        // No merge of the default branch into ref, no commit status checks: the release is what it is.
        auto_merge: false,
        required_contexts: [],
        payload,
        description: statusDescription(description),
        transient_environment: false,
      });
      return (data as DeploymentObject).id;
    });
  }

  async status(id: number, state: DeploymentState, description: string): Promise<void> {
    await this.attempt(`set deployment ${id} ${state}`, () =>
      this.request('POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', {
        ...this.repo,
        deployment_id: id,
        state,
        description: statusDescription(description),
        ...(this.target.logUrl ? { log_url: this.target.logUrl } : {}),
        ...(this.target.environmentUrl ? { environment_url: this.target.environmentUrl } : {}),
        // A success makes this one the environment's active deployment; the older ones GitHub marks
        // inactive itself (we mark the one a rollback left explicitly).
        ...(state === 'success' ? { auto_inactive: true } : {}),
      }),
    );
  }

  /** The newest deployment of the environment whose sha is the release's (by its short sha). */
  async findRelease(release: string): Promise<number | undefined> {
    const short = releaseSha(release);
    if (!short) return undefined;
    return this.attempt(`find the deployment of ${release}`, async () => {
      const { data } = await this.request('GET /repos/{owner}/{repo}/deployments', {
        ...this.repo,
        environment: this.target.environment,
        per_page: 100,
      });
      const found = (data as DeploymentObject[]).filter(
        (d) => d.sha.startsWith(short) || (d.payload as { release?: unknown })?.release === release,
      );
      // GitHub lists newest first.
      return found[0]?.id;
    });
  }

  private async attempt<T>(doing: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (error) {
      const status = (error as { status?: number }).status;
      this.log.warn(
        `GitHub's deployment record: could not ${doing} in ${this.target.owner}/${this.target.repo} (${status ? `${status}: ` : ''}${errorText(error).split('\n')[0]})${status === 403 || status === 404 ? ' — the token needs `deployments: write`' : ''}; the operation's own outcome stands.`,
      );
      return undefined;
    }
  }
}
