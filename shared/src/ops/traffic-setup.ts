/**
 * `traffic-setup`: what `traffic: nginx` needs on a host, installed the way maintenance-setup installs
 * its snippet. The upstream file is written for the app that serves now (its port read from the
 * site's `proxy_pass`, or given as `app-port`), the site's `proxy_pass http://127.0.0.1:<port>` lines
 * pointed at `http://<app>`, `nginx -t`, reload; when the test fails both files are put back and
 * nothing is reloaded. Run again, it leaves a live upstream as it is (a deploy may have moved it).
 * The first `traffic: nginx` deploy then adopts the plain pm2 app into a slot without a gap.
 */
import { OperationError } from '../errors.js';
import type { Log } from '../log.js';
import type { SshOptions } from '../ssh/connect.js';
import type { SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';
import type { SshTarget } from '../ssh/target.js';
import {
  NGINX_TEST_FAILED,
  nginxSaid,
  parseUpstream,
  upstreamText,
  type LiveUpstream,
  type TrafficOptions,
} from '../releases/traffic.js';
import { eachHost, expectSite } from './maintenance.js';
import type { HostResult, OpsReport } from './ops.js';

export interface TrafficSetupOptions {
  hosts: SshTarget[];
  ssh: SshOptions;
  app: string;
  traffic: TrafficOptions;
  /** The site whose proxy_pass is pointed at the upstream; undefined: the caller changes it. */
  site?: string;
  /** The port the app serves on now; undefined: read from the site's proxy_pass. */
  appPort?: number;
  /** Where the site answers, checked after the reload (one, or one per host). */
  siteUrls: URL[];
  timeoutMs: number;
  dryRun: boolean;
}

const PROXY_PASS = /(proxy_pass\s+)http:\/\/(?:127\.0\.0\.1|localhost):(\d+)(?=[/;\s])/g;

interface SitePlan {
  /** The site's new text, when its proxy_pass lines change. */
  text?: string;
  /** The port its proxy_pass lines name (one). */
  port?: number;
}

/** How the site's proxy_pass lines become `http://<app>`, or why they cannot be changed for the caller. */
export function planSite(site: string, text: string, app: string): SitePlan {
  if (new RegExp(`proxy_pass\\s+http://${app.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[/;\\s]`).test(text))
    return {};
  const ports = [...new Set([...text.matchAll(PROXY_PASS)].map((m) => Number(m[2])))];
  if (ports.length !== 1) {
    const lines = text
      .split('\n')
      .map((line, i) => ({ line: line.trim(), n: i + 1 }))
      .filter((l) => l.line.startsWith('proxy_pass'));
    throw new OperationError(
      `${site}: ${ports.length === 0 ? 'no proxy_pass to a local port' : `proxy_pass lines to ${ports.length} local ports (${ports.join(', ')})`}, so which one is the app is not clear. Nothing was changed.`,
      `${lines.length ? lines.map((l) => `change line ${l.n} \`${l.line}\``).join(', ') : 'in the location that serves the app, write'} to \`proxy_pass http://${app};\` yourself${ports.length > 1 ? ' where it proxies to the app' : ''}, give app-port, and run traffic-setup again.`,
    );
  }
  return { text: text.replace(PROXY_PASS, `$1http://${app}`), port: ports[0] as number };
}

async function setupHost(
  options: TrafficSetupOptions,
  session: SshSession,
  url: URL | undefined,
  log: Log,
  result: HostResult,
): Promise<void> {
  const { traffic, app } = options;
  const { stdout } = await session.run(
    'read the upstream file and the site',
    sh`if [ -f ${traffic.upstreamFile} ]; then cat -- ${traffic.upstreamFile}; fi; echo; echo '#runbook-site'; if [ -n ${options.site ?? ''} ]; then cat -- ${options.site ?? ''}; fi`,
  );
  const at = stdout.lastIndexOf('\n#runbook-site\n');
  const existing = parseUpstream(stdout.slice(0, at), traffic);
  const siteText = stdout.slice(at + '\n#runbook-site\n'.length);
  const site = options.site ? planSite(options.site, siteText, app) : {};
  const port = existing?.port ?? options.appPort ?? site.port;
  if (port === undefined)
    throw new OperationError(
      `${session.name}: the port the app serves on now is not known. Nothing was changed.`,
      'give app-port, or nginx-site (its proxy_pass names the port).',
    );
  if (!existing && traffic.slotPorts.includes(port))
    throw new OperationError(
      `${session.name}: the app serves on port ${port}, which slot-ports gives to a slot. Nothing was changed.`,
      'give slot-ports two other ports: the first traffic: nginx deploy starts the app on them beside the one serving now.',
    );
  const live: LiveUpstream = existing ?? { port };
  const plan = [
    existing
      ? `${traffic.upstreamFile} names port ${existing.port} already: kept`
      : `write ${traffic.upstreamFile} (upstream ${app} → 127.0.0.1:${port})`,
    site.text
      ? `point ${options.site}'s proxy_pass at http://${app}`
      : options.site
        ? `${options.site} proxies to http://${app} already`
        : `the site's proxy_pass must say http://${app} (not changed here: no nginx-site)`,
    `\`${traffic.testCommand}\`, then \`${traffic.reloadCommand}\``,
  ];
  log.info(`${options.dryRun ? '[dry-run] would ' : ''}${plan.join('; ')}`);
  if (options.dryRun) {
    result.result = 'planned';
    return;
  }
  const { code, stderr } = await session.run(
    'write the upstream, point the site at it, test and reload nginx',
    sh`f=${traffic.upstreamFile}; site=${options.site ?? ''}; write_up=${existing ? '0' : '1'}; write_site=${site.text ? '1' : '0'}
if [ "$write_up" = 1 ]; then mkdir -p -- "$(dirname -- "$f")" && printf '%s' ${upstreamText(app, live)} > "$f.runbook-tmp" && mv -f -- "$f.runbook-tmp" "$f" || exit 1; fi
if [ "$write_site" = 1 ]; then cp -p -- "$site" "$site.runbook-bak" && cat > "$site.runbook-tmp" && cat -- "$site.runbook-tmp" > "$site" && rm -f -- "$site.runbook-tmp" || exit 1; fi
if ! out=$(sh -c ${traffic.testCommand} 2>&1); then
  if [ "$write_site" = 1 ]; then cat -- "$site.runbook-bak" > "$site"; rm -f -- "$site.runbook-bak"; fi
  if [ "$write_up" = 1 ]; then rm -f -- "$f"; fi
  printf '%s\\n' "$out" >&2
  exit ${String(NGINX_TEST_FAILED)}
fi
rm -f -- "$site.runbook-bak"
sh -c ${traffic.reloadCommand}`,
    { stdin: site.text ?? '', okCodes: [NGINX_TEST_FAILED] },
  );
  if (code === NGINX_TEST_FAILED)
    throw new OperationError(
      `nginx -t failed, so the upstream file${site.text ? ' and the site' : ''} were put back and nginx was NOT reloaded: ${nginxSaid(stderr)}`,
      `fix the nginx configuration (\`nginx -t\` says where); the upstream file must be read in nginx's http block (conf.d/ is, on Ubuntu), then run traffic-setup again.`,
    );
  const served = url
    ? `; ${url.href} serves the app (${await expectSite(url, 'app', options.timeoutMs)})`
    : '';
  result.detail = `upstream ${app} → port ${live.port}${existing ? ' (kept)' : ''}${site.text ? `; ${options.site} proxies to it` : ''}; nginx tested and reloaded${served}`;
}

export function trafficSetup(options: TrafficSetupOptions, log: Log): Promise<OpsReport> {
  // nginx is reloaded on each: one host after the other, a broken config stops the rest.
  return eachHost(options, 'traffic-setup', log, 1, (session, index, result) =>
    setupHost(
      options,
      session,
      options.siteUrls.length > 1 ? options.siteUrls[index] : options.siteUrls[0],
      log,
      result,
    ),
  );
}
