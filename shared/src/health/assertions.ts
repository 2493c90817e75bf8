/** Judging one response body: JSON assertions and the served release. Pure functions. */
import type { JsonAssertion, JsonScalar } from './options.js';

interface Found {
  path: string;
  present: boolean;
  value?: unknown;
}

/** Every value a (possibly wildcarded) path reaches. A wildcard over nothing reaches nothing. */
function resolvePath(root: unknown, path: string[]): Found[] {
  let frontier: Found[] = [{ path: '', present: true, value: root }];
  for (const segment of path) {
    const next: Found[] = [];
    for (const node of frontier) {
      const here = (key: string) => (node.path === '' ? key : `${node.path}.${key}`);
      if (!node.present) continue;
      const value = node.value;
      if (segment === '*') {
        if (Array.isArray(value))
          value.forEach((v, i) => next.push({ path: here(String(i)), present: true, value: v }));
        else if (value !== null && typeof value === 'object')
          for (const [k, v] of Object.entries(value)) next.push({ path: here(k), present: true, value: v });
      } else if (value !== null && typeof value === 'object' && Object.hasOwn(value, segment)) {
        next.push({ path: here(segment), present: true, value: (value as Record<string, unknown>)[segment] });
      } else {
        next.push({ path: here(segment), present: false });
      }
    }
    frontier = next;
  }
  return frontier;
}

function show(values: JsonScalar[]): string {
  return values.length === 1
    ? JSON.stringify(values[0])
    : `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
}

/** The first failing assertion, as a sentence, or undefined when all hold. */
export function checkJsonAssertions(body: unknown, assertions: JsonAssertion[]): string | undefined {
  for (const assertion of assertions) {
    for (const found of resolvePath(body, assertion.path)) {
      if (!found.present)
        return `body field \`${found.path}\` is missing (expected ${show(assertion.allowed)})`;
      if (!assertion.allowed.some((allowed) => allowed === found.value)) {
        return `body field \`${found.path}\` is ${JSON.stringify(found.value)} (expected ${show(assertion.allowed)})`;
      }
    }
  }
  return undefined;
}

const VERSION_FIELDS = ['releaseId', 'version', 'release', 'commit', 'sha'];
const VERSION_HEADERS = ['x-release-id', 'x-version', 'x-release'];

/** The release the server says it runs: a body field, else a response header. */
export function servedVersion(
  body: unknown,
  headers: Record<string, string | string[] | undefined>,
): string | undefined {
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    for (const field of VERSION_FIELDS) {
      const value = (body as Record<string, unknown>)[field];
      if (typeof value === 'string' || typeof value === 'number') return String(value);
    }
  }
  for (const name of VERSION_HEADERS) {
    const value = headers[name];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

const SHORT_SHA = 7;

/**
 * Does the served release prove the expected one runs? Equal; or one is a git sha and the other
 * an abbreviation of it (at least 7 characters); or the served id is a release directory name
 * ending in `-<abbreviated sha>` (`20261130T075100Z-1a2b3c4`).
 */
export function versionMatches(expected: string, served: string): boolean {
  const e = expected.trim().toLowerCase();
  const s = served.trim().toLowerCase();
  if (e === '' || s === '') return false;
  if (e === s) return true;
  const isSha = (text: string) => /^[0-9a-f]+$/.test(text) && text.length >= SHORT_SHA;
  const abbreviates = (short: string, long: string) => isSha(short) && isSha(long) && long.startsWith(short);
  if (abbreviates(e, s) || abbreviates(s, e)) return true;
  const suffix = /-([0-9a-f]{7,40})$/.exec(s)?.[1];
  return suffix !== undefined && (abbreviates(suffix, e) || suffix === e);
}
