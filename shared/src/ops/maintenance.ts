/**
 * The runbook's maintenance page, made a switch: `maintenance-setup` installs an nginx snippet (and, with
 * `nginx-site`, includes it in the site's server blocks) that answers 503 with the page while a flag
 * file exists — `nginx -t` first, everything put back and nothing reloaded when it fails. Then
 * `maintenance-on` / `-off` only create / remove the flag (no reload at all), each verified by requesting
 * the site: 503 with the page, then the app again.
 */
import { ConfigurationError, OperationError, errorText } from '../errors.js';
import { httpGet } from '../health/http-get.js';
import type { Log } from '../log.js';
import { sleep } from '../retry/backoff.js';
import { parseAppDir } from '../releases/layout.js';
import type { SshOptions } from '../ssh/connect.js';
import { CONNECT_PARALLEL } from '../fleet/hosts.js';
import { onEachHost } from '../fleet/each-host.js';
import type { SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';
import type { SshTarget } from '../ssh/target.js';
import type { HostResult, OpsReport } from './ops.js';

export interface MaintenanceOptions {
  hosts: SshTarget[];
  ssh: SshOptions;
  /** The site as users reach it, one per host or one with {host}: what must answer 503 / the app. */
  siteUrls: URL[];
  snippet: string;
  flag: string;
  pageDir: string;
  page: string;
  /** The site config to include the snippet into (maintenance-setup). */
  site?: string;
  testCommand: string;
  reloadCommand: string;
  timeoutMs: number;
  dryRun: boolean;
}

/** Marks our page, so the check knows the 503 is ours and not the app's. */
export const PAGE_MARKER = '<!-- runbook-maintenance -->';

export const DEFAULT_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Down for maintenance</title></head>
<body><h1>We'll be right back</h1><p>The service is down for maintenance. Please try again in a few minutes.</p></body></html>
`;

/** A path that goes into nginx's config: absolute, and nothing nginx would read as syntax. */
export function parseNginxPath(input: string, raw: string): string {
  const path = parseAppDir(input, raw);
  if (/[;{}'"$#\\]/.test(path))
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} holds a character nginx would read as syntax.`,
    );
  return path;
}

export function snippetText(flag: string, pageDir: string): string {
  return `# runbook-actions maintenance page: while ${flag} exists, every request gets 503 and the page.
# Installed by action-ops maintenance-setup; switched by maintenance-on / maintenance-off.
error_page 503 @runbook_maintenance;
if (-f ${flag}) {
    return 503;
}
location @runbook_maintenance {
    root ${pageDir};
    add_header Retry-After 300 always;
    try_files /index.html =503;
}
`;
}

/**
 * The step on every host (the fleet's onEachHost), the first failure stopping the hosts not yet
 * started; the report lists each host's result.
 */
export async function eachHost(
  options: Pick<MaintenanceOptions, 'hosts' | 'ssh'>,
  operation: string,
  log: Log,
  parallel: number,
  act: (session: SshSession, index: number, result: HostResult) => Promise<void>,
): Promise<OpsReport> {
  const started = Date.now();
  const report: OpsReport = { operation, plan: [], hosts: [], durationMs: 0 };
  const results = new Map<number, HostResult>();
  const steps = await onEachHost(
    options.hosts,
    options.ssh,
    { log },
    { parallel, stopAtFirstFailure: true },
    async (session, host) => {
      const result: HostResult = { host: host.name, result: 'failed', detail: '' };
      results.set(host.index, result);
      await log.group(`${host.name}: ${operation}`, () => act(session, host.index, result));
      if (result.result === 'failed') result.result = 'done';
    },
  );
  for (const step of steps) {
    const result = results.get(step.host.index) ?? {
      host: step.host.name,
      result: step.status === 'skipped' ? 'untouched' : 'failed',
      detail: step.status === 'skipped' ? 'not started: another host failed first' : '',
    };
    if (step.status === 'failed') {
      result.result = 'failed';
      result.detail = errorText(step.error);
      report.failure ??= step.error instanceof OperationError ? step.error : undefined;
      if (!(step.error instanceof OperationError)) throw step.error;
    }
    report.hosts.push(result);
  }
  report.durationMs = Date.now() - started;
  return report;
}

const siteUrl = (options: MaintenanceOptions, index: number) =>
  options.siteUrls.length === 1 ? (options.siteUrls[0] as URL) : (options.siteUrls[index] as URL);

/** Polls the site until it serves the maintenance page (on) or anything else than it (off). */
export async function expectSite(url: URL, want: 'page' | 'app', timeoutMs: number): Promise<string> {
  const until = Date.now() + Math.max(timeoutMs, 3000);
  let last: string;
  for (;;) {
    try {
      const answer = await httpGet({ url, headers: {}, timeoutMs });
      const isPage = answer.statusCode === 503 && answer.body.includes(PAGE_MARKER);
      last = `${answer.statusCode}${isPage ? ' with the maintenance page' : ''}`;
      if (want === 'page' ? isPage : !isPage && answer.statusCode < 500) return last;
    } catch (error) {
      last = errorText(error);
    }
    if (Date.now() > until) throw new OperationError(`${url.href} answered ${last}`, '');
    await sleep(200);
  }
}

export function maintenanceSetup(options: MaintenanceOptions, log: Log): Promise<OpsReport> {
  // nginx is reloaded on each: one host after the other, a broken config stops the rest.
  return eachHost(options, 'maintenance-setup', log, 1, async (session, index, result) => {
    const url = siteUrl(options, index);
    log.info(
      `${options.dryRun ? '[dry-run] would write' : 'writing'} ${options.snippet} and ${options.pageDir}/index.html${options.site ? `, include the snippet in ${options.site}` : ''}, run \`${options.testCommand}\`, then \`${options.reloadCommand}\``,
    );
    if (options.dryRun) {
      result.result = 'planned';
      return;
    }
    const { stdout, code, stderr } = await session.run(
      'install the maintenance snippet, test and reload nginx',
      sh`set -e
snippet=${options.snippet}; site=${options.site ?? ''}; page=${`${options.pageDir}/index.html`}
mkdir -p -- ${options.pageDir} "$(dirname -- "$snippet")"
cat > "$page.runbook-tmp" && mv -f -- "$page.runbook-tmp" "$page"
had=0; if [ -e "$snippet" ]; then cp -p -- "$snippet" "$snippet.runbook-bak"; had=1; fi
printf '%s' ${snippetText(options.flag, options.pageDir)} > "$snippet"
changed=0
if [ -n "$site" ] && ! grep -qF -- "include $snippet;" "$site"; then
  cp -p -- "$site" "$site.runbook-bak"
  awk -v inc="    include $snippet;" '{ print } /^[[:space:]]*server[[:space:]]*[{]/ { print inc }' "$site.runbook-bak" > "$site.runbook-tmp"
  cat "$site.runbook-tmp" > "$site"; rm -f -- "$site.runbook-tmp"
  changed=1
fi
if ! out=$(sh -c ${options.testCommand} 2>&1); then
  if [ "$changed" = 1 ]; then cat "$site.runbook-bak" > "$site"; rm -f -- "$site.runbook-bak"; fi
  if [ "$had" = 1 ]; then mv -f -- "$snippet.runbook-bak" "$snippet"; else rm -f -- "$snippet"; fi
  printf '%s\\n' "$out" >&2
  exit 42
fi
rm -f -- "$snippet.runbook-bak" "$site.runbook-bak"
sh -c ${options.reloadCommand}
echo "site-changed=$changed"`,
      {
        stdin: options.page.includes(PAGE_MARKER) ? options.page : `${PAGE_MARKER}\n${options.page}`,
        okCodes: [42],
      },
    );
    if (code === 42)
      throw new OperationError(
        `nginx -t failed, so the snippet${options.site ? ' and the include' : ''} were taken back out and nginx was NOT reloaded: ${stderr.trim().split('\n').slice(-3).join(' / ')}`,
        'fix the nginx configuration (`nginx -t` says where), then run maintenance-setup again.',
      );
    const served = await expectSite(url, 'app', options.timeoutMs);
    result.detail = `snippet installed${stdout.includes('site-changed=1') ? ` and included in ${options.site}` : ''}; nginx tested and reloaded; ${url.href} still serves the app (${served})`;
  });
}

export function maintenanceSwitch(on: boolean, options: MaintenanceOptions, log: Log): Promise<OpsReport> {
  const operation = on ? 'maintenance-on' : 'maintenance-off';
  // The page goes up (and comes down) on every host at once.
  return eachHost(options, operation, log, CONNECT_PARALLEL, async (session, index, result) => {
    const url = siteUrl(options, index);
    log.info(
      `${options.dryRun ? '[dry-run] would ' : ''}${on ? 'create' : 'remove'} ${options.flag}; ${url.href} must then answer ${on ? '503 with the maintenance page' : 'from the app'}`,
    );
    if (options.dryRun) {
      result.result = 'planned';
      return;
    }
    if (on) {
      const { code } = await session.run(
        'create the maintenance flag',
        sh`[ -f ${options.snippet} ] || exit 43; mkdir -p -- "$(dirname -- ${options.flag})" && : > ${options.flag}`,
        { okCodes: [43] },
      );
      if (code === 43)
        throw new OperationError(
          `${options.snippet} is not there: the maintenance page is not set up on this host.`,
          'run the maintenance-setup operation first (once per host).',
        );
    } else {
      await session.run('remove the maintenance flag', sh`rm -f -- ${options.flag}`);
    }
    try {
      result.detail = `${url.href} answers ${await expectSite(url, on ? 'page' : 'app', options.timeoutMs)}`;
    } catch (error) {
      if (on)
        await session
          .run('remove the maintenance flag again', sh`rm -f -- ${options.flag}`)
          .catch(() => undefined);
      throw new OperationError(
        on
          ? `the flag is set but ${errorText(error)}, not 503 with the page: nginx does not use the snippet here. The flag was removed again.`
          : `the flag is removed but ${errorText(error)}: the app does not answer behind nginx.`,
        on
          ? `include ${options.snippet} in the site's server block (maintenance-setup with nginx-site does it), then try again.`
          : 'run action-diagnose: is the app up (pm2 status)?',
      );
    }
  });
}
