/**
 * The GitHub Actions secret that mirrors the hosts' value, written through the REST API: the
 * scope's public key first (so a token without access fails before any host changes), the value
 * sealed to it, then one PUT, through the suite's one GitHub client (github/client.ts).
 */
import { OperationError } from '../errors.js';
import type { Log } from '../log.js';
import { openGithubRequest, type GithubRequest as Request } from '../github/client.js';

export type GithubScope =
  | { kind: 'repository'; owner: string; repo: string }
  | { kind: 'environment'; owner: string; repo: string; environment: string }
  | { kind: 'organization'; org: string; visibility: 'all' | 'private' | 'selected' };

export interface GithubSecretTarget {
  scope: GithubScope;
  secretName: string;
  token: string;
  /** The REST API root: GITHUB_API_URL on the runner (GitHub Enterprise Server: https://HOST/api/v3). */
  apiUrl: string;
  /** The longest a rate limit may make us wait before giving up. */
  maxWaitMs: number;
  /** How long one GitHub request may take (plus any rate-limit wait GitHub asks for, up to maxWaitMs). */
  requestTimeoutMs: number;
}

export interface PublicKey {
  keyId: string;
  key: string;
}

export function describeScope(scope: GithubScope): string {
  switch (scope.kind) {
    case 'repository':
      return `repository ${scope.owner}/${scope.repo}`;
    case 'environment':
      return `environment ${scope.environment} of ${scope.owner}/${scope.repo}`;
    case 'organization':
      return `organization ${scope.org} (visibility ${scope.visibility})`;
  }
}

/** The REST routes of a scope: `GET <base>/public-key`, `PUT <base>/{secret_name}`. */
function routeBase(scope: GithubScope): { base: string; params: Record<string, string> } {
  switch (scope.kind) {
    case 'repository':
      return {
        base: '/repos/{owner}/{repo}/actions/secrets',
        params: { owner: scope.owner, repo: scope.repo },
      };
    case 'environment':
      return {
        base: '/repos/{owner}/{repo}/environments/{environment_name}/secrets',
        params: { owner: scope.owner, repo: scope.repo, environment_name: scope.environment },
      };
    case 'organization':
      return { base: '/orgs/{org}/actions/secrets', params: { org: scope.org } };
  }
}

interface RequestFailure {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | undefined>; data?: unknown };
}

export class GithubSecret {
  private constructor(
    private readonly target: GithubSecretTarget,
    private readonly request: Request,
  ) {}

  static async open(target: GithubSecretTarget, log: Log): Promise<GithubSecret> {
    return new GithubSecret(target, await openGithubRequest(target, log));
  }

  get where(): string {
    return `GitHub secret ${this.target.secretName} of ${describeScope(this.target.scope)}`;
  }

  async publicKey(): Promise<PublicKey> {
    const { base, params } = routeBase(this.target.scope);
    try {
      const { data } = await this.request(`GET ${base}/public-key`, params);
      const { key_id, key } = data as { key_id?: unknown; key?: unknown };
      if (typeof key_id !== 'string' || typeof key !== 'string')
        throw new OperationError(
          `GitHub answered the public key request of ${describeScope(this.target.scope)} without key_id and key.`,
          'check that github-api-url (GITHUB_API_URL) points at the REST API.',
        );
      return { keyId: key_id, key };
    } catch (error) {
      throw this.failure(error, 'read the public key of');
    }
  }

  /** Seals and stores the value; 'created' (201) or 'updated' (204). */
  async put(value: string, key: PublicKey): Promise<'created' | 'updated'> {
    const { base, params } = routeBase(this.target.scope);
    // tweetnacl reads node:crypto when it loads: loaded here, where a value is sealed, not at start.
    const { sealForGithub } = await import('./sealed-box.js');
    const body: Record<string, unknown> = {
      ...params,
      secret_name: this.target.secretName,
      encrypted_value: sealForGithub(value, key.key),
      key_id: key.keyId,
      ...(this.target.scope.kind === 'organization' ? { visibility: this.target.scope.visibility } : {}),
    };
    try {
      const { status } = await this.request(`PUT ${base}/{secret_name}`, body);
      return status === 201 ? 'created' : 'updated';
    } catch (error) {
      throw this.failure(error, 'update');
    }
  }

  /** A refusal of GitHub's, said the way an on-call engineer can act on. */
  private failure(error: unknown, doing: string): unknown {
    if (error instanceof OperationError) return error;
    const e = error as RequestFailure;
    const name = (error as { name?: string; cause?: { name?: string } })?.name;
    const cause = (error as { cause?: { name?: string } })?.cause?.name;
    if ([name, cause].some((n) => n === 'TimeoutError' || n === 'AbortError')) {
      return new OperationError(
        `GitHub at ${this.target.apiUrl} did not answer to ${doing} ${describeScope(this.target.scope)} within ${Math.round((this.target.requestTimeoutMs + this.target.maxWaitMs) / 1000)} s (github-timeout ${Math.round(this.target.requestTimeoutMs / 1000)} s + github-max-wait).`,
        'GitHub may be degraded (https://www.githubstatus.com): run again later, or raise github-timeout.',
      );
    }
    if (typeof e?.status !== 'number') {
      return new OperationError(
        `Could not reach GitHub at ${this.target.apiUrl} to ${doing} ${describeScope(this.target.scope)}: ${e?.message ?? String(error)}.`,
        'check the runner’s network and github-api-url (GITHUB_API_URL); GitHub’s status is at https://www.githubstatus.com.',
      );
    }
    const said = messageOf(e);
    const what = `GitHub refused to ${doing} ${this.where} (${e.status}${said ? `: ${said}` : ''}).`;
    const headers = e.response?.headers ?? {};
    if (headers['x-ratelimit-remaining'] === '0' || /rate limit/i.test(said) || e.status === 429) {
      const reset = Number(headers['x-ratelimit-reset']);
      return new OperationError(
        `${what} The token is rate limited${Number.isFinite(reset) && reset > 0 ? ` until ${new Date(reset * 1000).toISOString()}` : ''}.`,
        'run again after that time, or raise github-max-wait so the run waits it out.',
      );
    }
    switch (e.status) {
      case 401:
        return new OperationError(
          `${what} The token is not valid (expired, revoked or mistyped).`,
          'replace the secret that holds github-token with a working token.',
        );
      case 403:
        return new OperationError(
          `${what} The token lacks permission to write Actions secrets there.`,
          "the workflow's own GITHUB_TOKEN can never write secrets: give github-token a fine-grained token (or a GitHub App's) with the 'Secrets: read and write' repository permission (environment secrets: 'Environments: read and write'; organization secrets: 'Organization secrets: read and write').",
        );
      case 404:
        return new OperationError(
          `${what} ${describeScope(this.target.scope)} does not exist or is not visible to the token.`,
          'check github-repository / github-environment / github-org, and that the token was granted access to that repository.',
        );
      case 422:
        return new OperationError(
          `${what} GitHub found the request invalid.`,
          'check github-secret-name and org-visibility; the public key may have changed mid-run — run again.',
        );
      default:
        return new OperationError(
          what,
          'GitHub may be having trouble: see https://www.githubstatus.com and run again.',
        );
    }
  }
}

function messageOf(e: RequestFailure): string {
  const data = e.response?.data as { message?: unknown } | undefined;
  return typeof data?.message === 'string' ? data.message : '';
}

/** GitHub's rules for a secret name. */
export function checkGithubSecretName(name: string): string | undefined {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return 'use letters, digits and _, not starting with a digit';
  if (/^GITHUB_/i.test(name)) return 'GitHub reserves names starting with GITHUB_';
  return undefined;
}
