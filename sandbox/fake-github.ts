/**
 * A local stand-in for the GitHub REST endpoints action-rotate-secret uses — the public key and the
 * secret PUT of the repository, environment and organization scopes — faithful where it matters:
 * every request (path, path parameters, body) and every answer of ours is checked against GitHub's
 * published OpenAPI description (@octokit/openapi); a request that does not match is answered 400
 * and recorded as a violation. Each scope has its own libsodium key pair: the sealed box of every
 * PUT is opened with libsodium itself, so the stored value is the value the action meant.
 * It can be told to answer 401, 403, 404, 422 or a (secondary) rate limit for the next requests.
 * It also keeps a repository's issues (list, create, comment, close) for the maintenance workflow's
 * issue tracking, and its deployments (list, create, statuses) for action-deploy and action-rollback,
 * its answers complete issue, comment, deployment and status objects as the description requires.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import sodium from 'libsodium-wrappers';
import { repoRoot } from './action-runner.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Operation {
  parameters?: Json[];
  requestBody?: { content?: { 'application/json'?: { schema?: Json } } };
  responses: Record<string, { content?: { 'application/json'?: { schema?: Json } } }>;
}
type Spec = {
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, Record<string, Json>>;
};

/** `hang`: the request is read and never answered (until the stand-in stops): a GitHub that stalls. */
export type Fault = 401 | 403 | 404 | 422 | 'rate-limit' | 'secondary-rate-limit' | 500 | 'hang';

export interface FakeRequest {
  method: string;
  path: string;
  status: number;
  /** The body as received (a sealed value is ciphertext). */
  body: string;
}

let cachedSpec: Spec | undefined;
function spec(): Spec {
  cachedSpec ??= JSON.parse(
    readFileSync(join(repoRoot, 'node_modules/@octokit/openapi/generated/api.github.com.json'), 'utf8'),
  ) as Spec;
  return cachedSpec;
}

/** Inlines `#/components/...` references (the few schemas of these operations are not recursive). */
function deref(node: Json, depth = 0): Json {
  if (depth > 40) throw new Error('fake-github: reference too deep');
  if (Array.isArray(node)) return node.map((n) => deref(n, depth + 1));
  if (node && typeof node === 'object') {
    const ref = node.$ref;
    if (typeof ref === 'string') {
      const [, , group, name] = ref.split('/');
      return deref(spec().components[group as string]?.[name as string] ?? null, depth + 1);
    }
    const out = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, deref(v, depth + 1)]));
    // OpenAPI 3.0's `nullable: true`, which ajv takes only beside a `type` (issue objects put it
    // beside `allOf`): as JSON Schema, "null or the rest".
    if (out.nullable === true) {
      delete out.nullable;
      if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
      return typeof out.type === 'string'
        ? { ...out, type: [out.type, 'null'] }
        : { anyOf: [{ type: 'null' }, out] };
    }
    return out;
  }
  return node;
}

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const compiled = new WeakMap<object, ValidateFunction>();
function validator(schema: Json): ValidateFunction {
  const key = schema as object;
  let v = compiled.get(key);
  if (!v) {
    v = ajv.compile(deref(schema) as object);
    compiled.set(key, v);
  }
  return v;
}

/** A path segment is text: an integer parameter (issue_number) is read as the number it spells. */
function pathValue(schema: Json, raw: string): Json {
  const type = (deref(schema) as { type?: unknown }).type;
  return (type === 'integer' || type === 'number') && /^\d+$/.test(raw) ? Number(raw) : raw;
}

/** The spec's path template matching a concrete path, with its parameters. */
function matchOperation(
  method: string,
  path: string,
): { template: string; op: Operation; params: Record<string, string> } | undefined {
  for (const [template, ops] of Object.entries(spec().paths)) {
    const names: string[] = [];
    const pattern = new RegExp(
      `^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{([^}]+)\\?\}/g, (_, n: string) => (names.push(n), '([^/]+)'))}$`,
    );
    const m = pattern.exec(path);
    const op = ops[method.toLowerCase()];
    if (m && op)
      return {
        template,
        op,
        params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1] as string)])),
      };
  }
  return undefined;
}

interface ScopeKeys {
  keyId: string;
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

export interface FakeIssue {
  number: number;
  title: string;
  body: string;
  state: 'open' | 'closed';
  stateReason: string | null;
  comments: string[];
  /** A pull request is an issue too in the REST API, marked by its `pull_request` field. */
  pullRequest?: boolean;
}

export interface FakeDeployment {
  id: number;
  sha: string;
  ref: string;
  environment: string;
  payload: Json;
  description: string | null;
  statuses: { state: string; description: string; logUrl?: string; environmentUrl?: string }[];
}

export class FakeGithub {
  readonly requests: FakeRequest[] = [];
  /** `repos/<owner>/<repo>` → its deployments, oldest first. */
  readonly deployments = new Map<string, FakeDeployment[]>();
  /** `repos/<owner>/<repo>` → its issues. */
  readonly issues = new Map<string, FakeIssue[]>();
  readonly violations: string[] = [];
  /** `<scope path>/<name>` → the decrypted value. */
  readonly secrets = new Map<string, string>();
  private readonly keys = new Map<string, ScopeKeys>();
  private readonly faults: { fault: Fault; method?: string }[] = [];
  /** Repositories, environments and organizations that exist: others answer 404. */
  readonly known = new Set<string>();
  token = 'ghp_fake_token_with_secrets_write';

  private constructor(
    private readonly server: http.Server,
    readonly prefix: string,
  ) {}

  static async start(options: { prefix?: string } = {}): Promise<FakeGithub> {
    await sodium.ready;
    spec();
    const server = http.createServer();
    const fake = new FakeGithub(server, options.prefix ?? '');
    server.on('request', (req, res) => fake.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${this.prefix}`;
  }

  /** The next matching request(s) get this answer instead. */
  failNext(fault: Fault, options: { method?: string; times?: number } = {}): void {
    for (let i = 0; i < (options.times ?? 1); i++)
      this.faults.push({ fault, ...(options.method ? { method: options.method } : {}) });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  secret(scopePath: string, name: string): string | undefined {
    return this.secrets.get(`${scopePath}/${name}`);
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private keysFor(scope: string): ScopeKeys {
    let k = this.keys.get(scope);
    if (!k) {
      const pair = sodium.crypto_box_keypair();
      k = {
        keyId: String(randomInt(10 ** 9, 10 ** 10)),
        publicKey: pair.publicKey,
        privateKey: pair.privateKey,
      };
      this.keys.set(scope, k);
    }
    return k;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const method = req.method ?? 'GET';
      const answer = (
        status: number,
        data?: Json,
        headers: Record<string, string> = {},
        schema?: { op: Operation },
      ) => {
        if (schema && data !== undefined) this.checkResponse(method, url.pathname, schema.op, status, data);
        this.requests.push({ method, path: url.pathname, status, body });
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
        res.end(data === undefined ? undefined : JSON.stringify(data));
      };
      if (!url.pathname.startsWith(this.prefix)) return answer(404, { message: 'Not Found' });
      const path = url.pathname.slice(this.prefix.length);
      const match = matchOperation(method, path);
      if (!match) {
        this.violations.push(`${method} ${path}: no such operation in GitHub's OpenAPI description`);
        return answer(404, { message: 'Not Found' });
      }
      const problems = this.checkRequest(match.op, match.params, body, req.headers);
      if (problems.length) {
        this.violations.push(`${method} ${match.template}: ${problems.join('; ')}`);
        return answer(400, {
          message: `fake-github: request does not match the OpenAPI description: ${problems.join('; ')}`,
        });
      }
      const fault = this.takeFault(method);
      if (fault) return this.answerFault(fault, answer);
      if (
        req.headers.authorization !== `token ${this.token}` &&
        req.headers.authorization !== `Bearer ${this.token}`
      )
        return answer(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
      const deploymentPath = /^\/(repos\/[^/]+\/[^/]+)\/deployments(?:\/(\d+)\/statuses)?$/.exec(path);
      if (deploymentPath) {
        const [, repo = '', id] = deploymentPath;
        const list = this.deployments.get(repo);
        if (!list) return answer(404, { message: 'Not Found' });
        const base = `https://api.github.com/${repo}`;
        if (!id && method === 'GET') {
          const env = url.searchParams.get('environment');
          const shown = list.filter((d) => !env || d.environment === env).reverse();
          return answer(
            200,
            shown.map((d) => deploymentObject(base, d)),
            {},
            match,
          );
        }
        const sent = JSON.parse(body) as Record<string, Json>;
        if (!id) {
          const ref = String(sent.ref);
          const deployment: FakeDeployment = {
            id: 7000 + list.length + 1,
            // A ref is resolved to its commit: a sha (full or short) stands for itself here.
            sha: /^[0-9a-f]{40}$/.test(ref) ? ref : ref.padEnd(40, '0'),
            ref,
            environment: String(sent.environment ?? 'production'),
            payload: sent.payload ?? {},
            description: typeof sent.description === 'string' ? sent.description : null,
            statuses: [],
          };
          list.push(deployment);
          return answer(201, deploymentObject(base, deployment), {}, match);
        }
        const deployment = list.find((d) => d.id === Number(id));
        if (!deployment) return answer(404, { message: 'Not Found' });
        const status = {
          state: String(sent.state),
          description: String(sent.description ?? ''),
          ...(typeof sent.log_url === 'string' ? { logUrl: sent.log_url } : {}),
          ...(typeof sent.environment_url === 'string' ? { environmentUrl: sent.environment_url } : {}),
        };
        deployment.statuses.push(status);
        return answer(201, statusObject(base, deployment, deployment.statuses.length), {}, match);
      }
      const issuePath = /^\/(repos\/[^/]+\/[^/]+)\/issues(?:\/(\d+)(\/comments)?)?$/.exec(path);
      if (issuePath) {
        const [, repo = '', number, comments] = issuePath;
        const list = this.issues.get(repo);
        if (!list) return answer(404, { message: 'Not Found' });
        const sent = body ? (JSON.parse(body) as Record<string, string>) : {};
        const base = `https://api.github.com/${repo}`;
        if (!number && method === 'GET') {
          const state = url.searchParams.get('state') ?? 'open';
          const page = Number(url.searchParams.get('page') ?? '1');
          const shown = page > 1 ? [] : list.filter((i) => state === 'all' || i.state === state);
          return answer(
            200,
            shown.map((i) => issueObject(base, i)),
            {},
            match,
          );
        }
        if (!number && method === 'POST') {
          const issue: FakeIssue = {
            number: list.length + 1,
            title: sent.title ?? '',
            body: sent.body ?? '',
            state: 'open',
            stateReason: null,
            comments: [],
          };
          list.push(issue);
          return answer(201, issueObject(base, issue), {}, match);
        }
        const issue = list.find((i) => i.number === Number(number));
        if (!issue) return answer(404, { message: 'Not Found' });
        if (comments && method === 'POST') {
          issue.comments.push(sent.body ?? '');
          return answer(201, commentObject(base, issue, issue.comments.length), {}, match);
        }
        if (!comments && method === 'PATCH') {
          if (sent.state === 'open' || sent.state === 'closed') issue.state = sent.state;
          if (sent.state_reason !== undefined) issue.stateReason = sent.state_reason;
          return answer(200, issueObject(base, issue), {}, match);
        }
        return answer(404, { message: 'Not Found' });
      }
      const scope = path.replace(/\/secrets(\/.*)?$/, '');
      if (!this.known.has(scope)) return answer(404, { message: 'Not Found' });
      if (path.endsWith('/secrets/public-key')) {
        const k = this.keysFor(scope);
        return answer(200, { key_id: k.keyId, key: Buffer.from(k.publicKey).toString('base64') }, {}, match);
      }
      const sent = JSON.parse(body) as { encrypted_value: string; key_id: string };
      const k = this.keysFor(scope);
      if (sent.key_id !== k.keyId) return answer(422, { message: 'Bad request: key_id does not match' });
      let value: string;
      try {
        value = Buffer.from(
          sodium.crypto_box_seal_open(Buffer.from(sent.encrypted_value, 'base64'), k.publicKey, k.privateKey),
        ).toString('utf8');
      } catch {
        this.violations.push(
          `${method} ${match.template}: the sealed box does not open with the scope's key`,
        );
        return answer(422, { message: 'Bad request: could not decrypt' });
      }
      const keyName = `${scope}/${match.params.secret_name}`;
      const existed = this.secrets.has(keyName);
      this.secrets.set(keyName, value);
      return existed ? answer(204) : answer(201, {}, {}, match);
    });
  }

  private takeFault(method: string): Fault | undefined {
    const i = this.faults.findIndex((f) => !f.method || f.method === method);
    return i === -1 ? undefined : this.faults.splice(i, 1)[0]?.fault;
  }

  private answerFault(
    fault: Fault,
    answer: (status: number, data?: Json, headers?: Record<string, string>) => void,
  ): void {
    switch (fault) {
      case 'hang':
        return;
      case 401:
        return answer(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
      case 403:
        return answer(403, {
          message: 'Resource not accessible by integration',
          documentation_url: 'https://docs.github.com/rest/actions/secrets',
        });
      case 404:
        return answer(404, { message: 'Not Found' });
      case 422:
        return answer(422, { message: 'Validation Failed', errors: [] });
      case 500:
        return answer(500, { message: 'Server Error' });
      case 'rate-limit':
        return answer(
          403,
          { message: 'API rate limit exceeded for user.' },
          {
            'x-ratelimit-limit': '5000',
            'x-ratelimit-remaining': '0',
            'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 1),
          },
        );
      case 'secondary-rate-limit':
        return answer(
          403,
          {
            message:
              'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
          },
          { 'retry-after': '1' },
        );
    }
  }

  private checkRequest(
    op: Operation,
    params: Record<string, string>,
    body: string,
    headers: http.IncomingHttpHeaders,
  ): string[] {
    const problems: string[] = [];
    for (const raw of op.parameters ?? []) {
      const p = deref(raw) as { name: string; in: string; required?: boolean; schema?: Json };
      if (p.in !== 'path') continue;
      if (p.required && params[p.name] === undefined) problems.push(`path parameter ${p.name} missing`);
      else if (p.schema && !validator(p.schema)(pathValue(p.schema, params[p.name] as string)))
        problems.push(`path parameter ${p.name} invalid`);
    }
    const schema = op.requestBody?.content?.['application/json']?.schema;
    if (schema) {
      if (!String(headers['content-type'] ?? '').startsWith('application/json'))
        problems.push('content-type is not application/json');
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        problems.push('body is not JSON');
      }
      const validate = validator(schema);
      if (parsed !== undefined && !validate(parsed))
        problems.push(`body: ${ajv.errorsText(validate.errors)}`);
    } else if (body.trim() !== '') {
      problems.push('a body where the operation takes none');
    }
    return problems;
  }

  private checkResponse(method: string, path: string, op: Operation, status: number, data: Json): void {
    const schema = op.responses[String(status)]?.content?.['application/json']?.schema;
    if (!schema) return;
    const validate = validator(schema);
    if (!validate(data))
      this.violations.push(
        `answer to ${method} ${path} (${status}) breaks the description: ${ajv.errorsText(validate.errors)}`,
      );
  }
}

const fakeUser = {
  login: 'runbook-bot',
  id: 1,
  node_id: 'U_1',
  avatar_url: 'https://avatars.githubusercontent.com/u/1',
  gravatar_id: '',
  url: 'https://api.github.com/users/runbook-bot',
  html_url: 'https://github.com/runbook-bot',
  followers_url: 'https://api.github.com/users/runbook-bot/followers',
  following_url: 'https://api.github.com/users/runbook-bot/following{/other_user}',
  gists_url: 'https://api.github.com/users/runbook-bot/gists{/gist_id}',
  starred_url: 'https://api.github.com/users/runbook-bot/starred{/owner}{/repo}',
  subscriptions_url: 'https://api.github.com/users/runbook-bot/subscriptions',
  organizations_url: 'https://api.github.com/users/runbook-bot/orgs',
  repos_url: 'https://api.github.com/users/runbook-bot/repos',
  events_url: 'https://api.github.com/users/runbook-bot/events{/privacy}',
  received_events_url: 'https://api.github.com/users/runbook-bot/received_events',
  type: 'Bot',
  site_admin: false,
};
const at = '2026-12-01T02:00:00Z';

function issueObject(base: string, i: FakeIssue): Json {
  const url = `${base}/issues/${i.number}`;
  return {
    id: 1000 + i.number,
    node_id: `I_${i.number}`,
    url,
    repository_url: base,
    labels_url: `${url}/labels{/name}`,
    comments_url: `${url}/comments`,
    events_url: `${url}/events`,
    html_url: url.replace('api.github.com/repos', 'github.com'),
    number: i.number,
    state: i.state,
    state_reason: i.stateReason,
    title: i.title,
    body: i.body,
    user: fakeUser,
    labels: [],
    assignee: null,
    milestone: null,
    locked: false,
    comments: i.comments.length,
    created_at: at,
    updated_at: at,
    closed_at: i.state === 'closed' ? at : null,
    ...(i.pullRequest
      ? {
          pull_request: { url: `${base}/pulls/${i.number}`, html_url: null, diff_url: null, patch_url: null },
        }
      : {}),
  };
}

function commentObject(base: string, i: FakeIssue, n: number): Json {
  return {
    id: 5000 + n,
    node_id: `IC_${n}`,
    url: `${base}/issues/comments/${5000 + n}`,
    html_url: `${base.replace('api.github.com/repos', 'github.com')}/issues/${i.number}#issuecomment-${5000 + n}`,
    issue_url: `${base}/issues/${i.number}`,
    body: i.comments[n - 1] ?? '',
    user: fakeUser,
    created_at: at,
    updated_at: at,
  };
}

function deploymentObject(base: string, d: FakeDeployment): Json {
  return {
    url: `${base}/deployments/${d.id}`,
    id: d.id,
    node_id: `DE_${d.id}`,
    sha: d.sha,
    ref: d.ref,
    task: 'deploy',
    payload: d.payload,
    original_environment: d.environment,
    environment: d.environment,
    description: d.description,
    creator: fakeUser,
    created_at: at,
    updated_at: at,
    statuses_url: `${base}/deployments/${d.id}/statuses`,
    repository_url: base,
    transient_environment: false,
    production_environment: d.environment === 'production',
  };
}

function statusObject(base: string, d: FakeDeployment, n: number): Json {
  const s = d.statuses[n - 1] as FakeDeployment['statuses'][number];
  return {
    url: `${base}/deployments/${d.id}/statuses/${n}`,
    id: d.id * 100 + n,
    node_id: `DES_${d.id}_${n}`,
    state: s.state,
    creator: fakeUser,
    description: s.description,
    environment: d.environment,
    target_url: s.logUrl ?? '',
    created_at: at,
    updated_at: at,
    deployment_url: `${base}/deployments/${d.id}`,
    repository_url: base,
    environment_url: s.environmentUrl ?? '',
    log_url: s.logUrl ?? '',
  };
}

/** Scope paths as the fake stores them. */
export const scopePath = {
  repository: (owner: string, repo: string) => `/repos/${owner}/${repo}/actions`,
  environment: (owner: string, repo: string, env: string) => `/repos/${owner}/${repo}/environments/${env}`,
  organization: (org: string) => `/orgs/${org}/actions`,
};
