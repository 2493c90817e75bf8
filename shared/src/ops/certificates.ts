/**
 * The runbook's Certificate Management: every certificate certbot knows (`certbot certificates`:
 * domains, expiry, days left), a warning under `cert-warn-days`; with `renew: true` (confirmed)
 * `certbot renew`, then the nginx test — a failing test reloads nothing — then the reload, and the
 * list again. Refused, naming what is missing, on a host without certbot.
 */
import { OperationError } from '../errors.js';
import type { Log } from '../log.js';
import type { SshOptions } from '../ssh/connect.js';
import { CONNECT_PARALLEL } from '../fleet/hosts.js';
import { onEveryHost } from '../fleet/each-host.js';
import type { SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';
import type { SshTarget } from '../ssh/target.js';

export interface Certificate {
  name: string;
  domains: string[];
  expiry: string;
  daysLeft?: number;
  /** certbot's own word: VALID, INVALID: EXPIRED, INVALID: TEST_CERT … */
  status: string;
  path?: string;
}

export interface HostCertificates {
  host: string;
  certificates: Certificate[];
  /** Renewal configurations certbot could not read. */
  invalid: string[];
  renewed?: string;
  warnings: string[];
}

const DAY = 86_400_000;

export function parseCertificates(
  text: string,
  now: Date,
): { certificates: Certificate[]; invalid: string[] } {
  const certificates: Certificate[] = [];
  for (const block of text.split(/^\s*Certificate Name:\s*/m).slice(1)) {
    const field = (name: string) => new RegExp(`^\\s*${name}:\\s*(.+)$`, 'm').exec(block)?.[1]?.trim();
    const expiryLine = field('Expiry Date') ?? '';
    const m = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2})\s*\(([^)]*)\)/.exec(expiryLine);
    const expiry = m?.[1] ?? expiryLine;
    const at = Date.parse(expiry.replace(' ', 'T'));
    const path = field('Certificate Path');
    certificates.push({
      name: (block.split('\n')[0] ?? '').trim(),
      domains: (field('Domains') ?? '').split(/\s+/).filter(Boolean),
      expiry,
      ...(Number.isFinite(at) ? { daysLeft: Math.floor((at - now.getTime()) / DAY) } : {}),
      status: (m?.[2] ?? 'unknown').replace(/:\s*\d+ days?$/, ''),
      ...(path ? { path } : {}),
    });
  }
  const invalidBlock = /configurations were invalid:\n([\s\S]*?)(?:\n-|\n\n|$)/.exec(text)?.[1] ?? '';
  return {
    certificates,
    invalid: invalidBlock
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
  };
}

export interface CertificateOptions {
  hosts: SshTarget[];
  ssh: SshOptions;
  certbotCommand: string;
  warnDays: number;
  renew: boolean;
  testCommand: string;
  reloadCommand: string;
  dryRun: boolean;
}

async function list(
  session: SshSession,
  command: string,
): Promise<{ certificates: Certificate[]; invalid: string[] }> {
  const { stdout, stderr } = await session.run(
    'certbot certificates',
    sh`sh -c ${`${command} certificates`} 2>&1`,
    { timeoutMs: 120_000 },
  );
  return parseCertificates(`${stdout}\n${stderr}`, new Date());
}

export async function certificates(options: CertificateOptions, log: Log): Promise<HostCertificates[]> {
  const program = options.certbotCommand.trim().split(/\s+/)[0] ?? 'certbot';
  return onEveryHost(
    options.hosts,
    options.ssh,
    { log: log },
    CONNECT_PARALLEL,
    async (session, { name: host }) => {
      const { code } = await session.run(
        'is certbot installed',
        sh`command -v ${program} >/dev/null 2>&1 || exit 44`,
        { okCodes: [44] },
      );
      if (code === 44)
        throw new OperationError(
          `certbot is not installed (${program} is not on the PATH of the SSH user): no certificate it manages can be listed or renewed.`,
          'install it (`apt install certbot python3-certbot-nginx`) or set certbot-command; for certificates not managed by certbot, action-health checks expiry with tls-min-days.',
        );
      const found = await list(session, options.certbotCommand);
      const result: HostCertificates = { host, ...found, warnings: [] };
      if (options.renew) {
        log.info(
          `${options.dryRun ? '[dry-run] would run' : 'running'} \`${options.certbotCommand} renew --non-interactive\`, then \`${options.testCommand}\` and \`${options.reloadCommand}\``,
        );
        if (!options.dryRun) {
          const renewed = await session.run(
            'certbot renew',
            sh`sh -c ${`${options.certbotCommand} renew --non-interactive`} 2>&1`,
            {
              timeoutMs: 600_000,
              okCodes: [0, 1],
            },
          );
          const summary = renewed.stdout
            .split('\n')
            .filter((l) => /renew|due|success|fail|skipped|expires/i.test(l))
            .map((l) => l.trim())
            .join('; ');
          if (renewed.code !== 0)
            throw new OperationError(
              `certbot renew failed: ${summary || renewed.stdout.trim().split('\n').slice(-3).join(' / ')}`,
              'read /var/log/letsencrypt/letsencrypt.log on the host; check that port 80 reaches the ACME challenge (nginx).',
            );
          const test = await session.run('nginx -t', sh`sh -c ${options.testCommand} 2>&1`, {
            okCodes: [0, 1],
          });
          if (test.code !== 0)
            throw new OperationError(
              `certbot renewed, but \`${options.testCommand}\` fails, so nginx was NOT reloaded (it still serves the old certificates): ${test.stdout.trim().split('\n').slice(-2).join(' / ')}`,
              'fix the nginx configuration, then reload nginx.',
            );
          await session.run('reload nginx', sh`sh -c ${options.reloadCommand}`);
          result.renewed = summary || 'certbot renew ran';
          Object.assign(result, await list(session, options.certbotCommand));
        }
      }
      for (const c of result.certificates) {
        if (c.daysLeft !== undefined && c.daysLeft < options.warnDays)
          result.warnings.push(
            `${c.name} (${c.domains.join(' ')}) expires in ${c.daysLeft} days (${c.status})`,
          );
      }
      for (const i of result.invalid)
        result.warnings.push(`certbot cannot read the renewal configuration ${i}`);
      for (const w of result.warnings) log.warn(`${host}: ${w}`);
      return result;
    },
  );
}
