/** `logrotate`: pm2-logrotate's settings checked (set when asked), rotated logs beyond retain reported. */
import { markdownTable } from '../../report/markdown.js';
import { readHosts, readSshOptions } from '../../ssh/inputs.js';
import { checkLogrotate, parseWanted } from '../logrotate.js';
import type { Operation } from '../operation.js';

export const logrotateOperation: Operation = {
  name: 'logrotate',
  destructive: false,
  mutates: { input: 'logrotate-set' },
  summary: 'pm2-logrotate settings checked, set when asked, rotated logs beyond retain reported',
  async run(inputs, _context, deps, { name, dryRun }) {
    const hosts = await checkLogrotate(
      {
        hosts: readHosts(inputs),
        ssh: readSshOptions(inputs),
        wanted: parseWanted({
          maxSize: inputs.raw('max-size') || '10M',
          retain: inputs.raw('retain') || '30',
          compress: (inputs.raw('compress') || 'true').toLowerCase(),
        }),
        set: inputs.boolean('logrotate-set', false),
        dryRun,
      },
      deps.log,
    );
    return {
      mode: name,
      outputs: { operation: name, result: dryRun ? 'planned' : 'done', report: JSON.stringify(hosts) },
      summary: [
        '## ops logrotate',
        '',
        markdownTable(
          ['Host', 'Installed', 'max_size', 'retain', 'compress', 'Differs', 'Set', 'Rotated beyond retain'],
          hosts.map((x) => [
            x.host,
            x.installed ? 'yes' : '⚠️ no',
            x.found.max_size,
            x.found.retain,
            x.found.compress,
            x.differs.join(', ') || '—',
            x.set ? 'yes' : 'no',
            String(x.beyondRetain.length),
          ]),
        ),
      ].join('\n'),
    };
  },
};
