/** One probe of one URL: request it (following redirects when asked) and judge the answer. */
import { checkJsonAssertions, servedVersion, versionMatches } from './assertions.js';
import { HttpGetError, httpGet, isPermanentGetError, type HttpGetResponse } from './http-get.js';
import { describeStatusRanges, statusMatches, type HealthOptions } from './options.js';
import { truncate } from '../report/markdown.js';

export interface ProbeRecord {
  attempt: number;
  url: string;
  /** ISO time the probe started. */
  at: string;
  ok: boolean;
  statusCode?: number;
  latencyMs?: number;
  version?: string;
  /** Why the probe failed, as a sentence. */
  failure?: string;
  /** What kind of failure, for the advice that follows it. */
  failureKind?: ProbeFailureKind;
  /** A failure that waiting will not heal (an untrusted or expiring certificate). */
  permanent?: boolean;
  /** Nothing listens: the connection was refused or reset, or a proxy in front answered 502. */
  refused?: boolean;
  /** The start of the body, kept as evidence when the probe failed. */
  body?: string;
  certificateDaysLeft?: number;
  warnings: string[];
}

/** refused: nothing listens (or a proxy's 502); answer: status, body or latency; version: not the expected release. */
export type ProbeFailureKind = 'refused' | 'unreachable' | 'tls' | 'status' | 'body' | 'latency' | 'version';

const MAX_REDIRECTS = 5;
const EVIDENCE_CHARS = 500;
const DAY_MS = 86_400_000;

export async function probeUrl(
  url: URL,
  attempt: number,
  options: HealthOptions,
  now: () => Date,
): Promise<ProbeRecord> {
  const record: ProbeRecord = { attempt, url: url.href, at: now().toISOString(), ok: false, warnings: [] };
  let response: HttpGetResponse;
  let target = url;
  let latencyMs = 0;
  try {
    for (let hop = 0; ; hop++) {
      response = await httpGet({
        url: target,
        headers: options.headers,
        timeoutMs: options.timeoutMs,
        ca: options.tlsCa,
        ...(options.tunnel ? { tunnel: options.tunnel } : {}),
      });
      latencyMs += response.latencyMs;
      const location = response.headers.location;
      if (!options.followRedirects || response.statusCode < 300 || response.statusCode >= 400 || !location)
        break;
      if (hop === MAX_REDIRECTS) break;
      target = new URL(location, target);
    }
  } catch (error) {
    if (!(error instanceof HttpGetError)) throw error;
    record.latencyMs = latencyMs + error.latencyMs;
    record.failure = error.message;
    record.permanent = isPermanentGetError(error.code);
    record.refused = error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET';
    record.failureKind = record.refused ? 'refused' : record.permanent ? 'tls' : 'unreachable';
    return record;
  }
  record.statusCode = response.statusCode;
  record.refused = response.statusCode === 502;
  record.latencyMs = latencyMs;
  const judged = judge(response, record, options, now);
  record.ok = judged === undefined;
  if (judged) [record.failureKind, record.failure] = judged;
  if (!record.ok) record.body = truncate(response.body.trim(), EVIDENCE_CHARS);
  return record;
}

/** The first reason the answer is not healthy, or undefined. Fills version and certificate facts in. */
function judge(
  response: HttpGetResponse,
  record: ProbeRecord,
  options: HealthOptions,
  now: () => Date,
): [ProbeFailureKind, string] | undefined {
  let body: unknown;
  let bodyIsJson = false;
  try {
    body = JSON.parse(response.body);
    bodyIsJson = true;
  } catch {
    body = undefined;
  }
  record.version = servedVersion(body, response.headers);

  if (response.certificate && options.tlsMinDays !== undefined) {
    const daysLeft = (response.certificate.validTo.getTime() - now().getTime()) / DAY_MS;
    record.certificateDaysLeft = Math.round(daysLeft * 10) / 10;
    if (daysLeft < options.tlsMinDays) {
      const text = `TLS certificate expires in ${record.certificateDaysLeft} days (${response.certificate.validTo.toISOString()}), less than tls-min-days ${options.tlsMinDays}: renew it (certbot renew) and reload nginx`;
      if (options.tlsExpiry === 'fail') {
        record.permanent = true;
        return ['tls', text];
      }
      record.warnings.push(text);
    }
  }

  if (!statusMatches(options.expectedStatus, response.statusCode)) {
    const location = response.headers.location;
    const redirect =
      response.statusCode >= 300 && response.statusCode < 400 && location && !options.followRedirects
        ? ` (redirect to ${location}; set follow-redirects: true to follow it)`
        : '';
    return [
      response.statusCode === 502 ? 'refused' : 'status',
      `status ${response.statusCode}, expected ${describeStatusRanges(options.expectedStatus)}${redirect}`,
    ];
  }
  if (
    options.maxLatencyMs !== undefined &&
    record.latencyMs !== undefined &&
    record.latencyMs > options.maxLatencyMs
  ) {
    return [
      'latency',
      `answered in ${record.latencyMs} ms, slower than max-latency ${options.maxLatencyMs} ms`,
    ];
  }
  if (options.expectJson) {
    if (!bodyIsJson) return ['body', 'body is not JSON (set expect-json: none to skip body checks)'];
    const failed = checkJsonAssertions(body, options.expectJson);
    if (failed) return ['body', failed];
  }
  if (options.expectedVersion !== undefined) {
    if (record.version === undefined) {
      // auto: a release that serves no version is proven by pm2 (pid, start time, cwd) instead.
      if (options.versionCheck === 'auto') return undefined;
      // Waiting cannot make a field appear that the app never serves.
      record.permanent = options.versionCheck === 'require';
      return [
        'version',
        `no release id served (body releaseId/version/release/commit/sha or header x-release-id), expected ${options.expectedVersion}${record.permanent ? ' (version-check: require)' : ''}`,
      ];
    }
    if (!versionMatches(options.expectedVersion, record.version)) {
      return [
        'version',
        `serving release ${record.version}, expected ${options.expectedVersion} (old code still running?)`,
      ];
    }
  }
  return undefined;
}
