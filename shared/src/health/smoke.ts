/**
 * Smoke requests: real requests with the status each must get (`POST /api/auth/login -> 401`), for
 * what `/health` does not see — a Redis client that gave up while `/health` stays 200. Run by
 * action-diagnose and, when given, by the deploy's health gate after /health passes.
 */
import type { Inputs } from '../config/inputs.js';
import { ConfigurationError } from '../errors.js';
import { truncate } from '../report/markdown.js';
import { HttpGetError, httpGet } from './http-get.js';
import { describeStatusRanges, parseStatusRanges, statusMatches, type StatusRange } from './options.js';

export interface SmokeRequest {
  method: string;
  /** Path and query, resolved against the health URL's origin. */
  path: string;
  /** JSON sent as the body. */
  body?: string;
  expected: StatusRange[];
  /** The line as written, for reports. */
  line: string;
}

export interface SmokeResult {
  request: string;
  ok: boolean;
  statusCode?: number;
  latencyMs?: number;
  /** Why it failed, with the start of the answer as evidence. */
  failure?: string;
}

const LINE =
  /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)\s+(\/\S*)(?:\s+(\{.*\}|\[.*\]))?\s*(?:->|→|=>)\s*(\S.*)$/;

/** One request per line: `METHOD /path [json body] -> status` (status: 200, 2xx, 400-499, 401,403). */
export function parseSmokeRequests(input: string, lines: string[]): SmokeRequest[] {
  return lines.map((raw) => {
    const line = raw.trim();
    const m = LINE.exec(line);
    if (!m)
      throw new ConfigurationError(
        input,
        `${JSON.stringify(line)} is not a smoke request; expected \`METHOD /path [json body] -> status\`, e.g. \`POST /api/auth/login {"email":"x@example.com"} -> 401\`.`,
      );
    if (m[3] !== undefined) {
      try {
        JSON.parse(m[3]);
      } catch {
        throw new ConfigurationError(input, `the body of ${JSON.stringify(line)} is not JSON.`);
      }
    }
    return {
      method: m[1] as string,
      path: m[2] as string,
      ...(m[3] !== undefined ? { body: m[3] } : {}),
      expected: parseStatusRanges(input, m[4] as string),
      line,
    };
  });
}

/** The `smoke-requests` input: one request a line (a JSON body holds commas, so lines only). */
export function readSmokeRequests(inputs: Pick<Inputs, 'raw'>): SmokeRequest[] {
  const lines = inputs
    .raw('smoke-requests')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  return parseSmokeRequests('smoke-requests', lines);
}

export async function runSmokeRequests(
  base: URL,
  requests: SmokeRequest[],
  options: { timeoutMs: number; headers: Record<string, string>; tlsCa?: string },
): Promise<SmokeResult[]> {
  return Promise.all(
    requests.map(async (request): Promise<SmokeResult> => {
      const url = new URL(request.path, base);
      const name = `${request.method} ${url.pathname}${url.search}`;
      try {
        const answer = await httpGet({
          url,
          method: request.method,
          headers: options.headers,
          timeoutMs: options.timeoutMs,
          ...(request.body !== undefined ? { body: request.body } : {}),
          ...(options.tlsCa ? { ca: options.tlsCa } : {}),
        });
        const ok = statusMatches(request.expected, answer.statusCode);
        return {
          request: name,
          ok,
          statusCode: answer.statusCode,
          latencyMs: answer.latencyMs,
          ...(ok
            ? {}
            : {
                failure: `${name} answered ${answer.statusCode}, expected ${describeStatusRanges(request.expected)}: ${truncate(answer.body.trim(), 200)}`,
              }),
        };
      } catch (error) {
        const why = error instanceof HttpGetError ? error.message : String(error);
        return { request: name, ok: false, failure: `${name}: ${why}` };
      }
    }),
  );
}
