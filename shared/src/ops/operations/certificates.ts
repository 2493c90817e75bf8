/** `certificates`: what certbot knows and the days left; with `renew: true`, renew, test and reload nginx. */
import { markdownTable } from '../../report/markdown.js';
import { readHosts, readSshOptions } from '../../ssh/inputs.js';
import { certificates } from '../certificates.js';
import type { Operation } from '../operation.js';

export const certificatesOperation: Operation = {
  name: 'certificates',
  // Renewing changes the hosts (certbot, an nginx reload); reading what certbot knows does not.
  destructive: { input: 'renew', as: 'certificate renewal' },
  mutates: { input: 'renew' },
  summary: 'what certbot knows, days left; `renew: true` renews, tests and reloads nginx',
  async run(inputs, _context, deps, { name, dryRun }) {
    const renew = inputs.boolean('renew', false);
    const hosts = await certificates(
      {
        hosts: readHosts(inputs),
        ssh: readSshOptions(inputs),
        certbotCommand: inputs.string('certbot-command') ?? 'certbot',
        warnDays: inputs.integer('cert-warn-days', 14, { min: 0, max: 365 }),
        renew,
        testCommand: inputs.string('nginx-test-command') ?? 'nginx -t',
        reloadCommand: inputs.string('nginx-reload-command') ?? 'nginx -s reload',
        dryRun,
      },
      deps.log,
    );
    return {
      mode: name,
      outputs: {
        operation: name,
        result: dryRun && renew ? 'planned' : 'done',
        report: JSON.stringify(hosts),
      },
      summary: [
        '## ops certificates',
        '',
        markdownTable(
          ['Host', 'Certificate', 'Domains', 'Expiry', 'Days left', 'Status'],
          hosts.flatMap((x) =>
            x.certificates.map((c) => [
              x.host,
              c.name,
              c.domains.join(' '),
              c.expiry,
              c.daysLeft === undefined ? '' : String(c.daysLeft),
              c.status,
            ]),
          ),
        ),
        '',
        ...hosts.flatMap((x) => [
          ...(x.renewed ? [`- ${x.host}: renewed — ${x.renewed}`] : []),
          ...x.warnings.map((w) => `- ⚠️ ${x.host}: ${w}`),
        ]),
      ].join('\n'),
    };
  },
};
