/** `logs`: the app's pm2 logs — last lines, a time window, a pattern — counted, redacted, as files. */
import { resolve } from 'node:path';
import { readEnvFile } from '../../envfile/inputs.js';
import { parseAppDir, parseAppName } from '../../releases/layout.js';
import { markdownTable } from '../../report/markdown.js';
import { readHosts, readSshOptions } from '../../ssh/inputs.js';
import { fetchLogs } from '../logs.js';
import type { Operation } from '../operation.js';

export const logsOperation: Operation = {
  name: 'logs',
  destructive: false,
  mutates: false,
  summary: 'last lines / time window / pattern of the pm2 logs, with counts, redacted, as files',
  async run(inputs, _context, deps, { name, secrets }) {
    const appDirRaw = inputs.string('app-dir');
    const since = inputs.optionalDuration('since', { min: 1000 });
    const extracts = await fetchLogs(
      {
        hosts: readHosts(inputs),
        ssh: readSshOptions(inputs),
        app: parseAppName('app-name', inputs.string('app-name', { required: true })),
        ...(appDirRaw ? { envFile: readEnvFile(inputs, parseAppDir('app-dir', appDirRaw)).envFile } : {}),
        kind: inputs.choice('log-kind', ['err', 'out', 'both'] as const, 'both'),
        lines: inputs.integer('lines', 100, { min: 1, max: 100_000 }),
        ...(inputs.string('pattern') ? { pattern: inputs.raw('pattern') } : {}),
        ...(since !== undefined ? { sinceMs: since } : {}),
        // Beside the runner's other files by default, for actions/upload-artifact.
        outputDir: inputs.string('output-dir')
          ? resolve(inputs.string('output-dir') as string)
          : resolve((deps.env ?? process.env).RUNNER_TEMP ?? '.', 'logs'),
        secrets,
      },
      deps,
    );
    for (const e of extracts)
      deps.log.info(
        `${e.host} ${e.kind}: ${e.matched} line(s) matched, ${e.kept} kept → ${e.file}${e.note ? ` (${e.note})` : ''}`,
      );
    return {
      mode: name,
      outputs: { operation: name, result: 'done', report: JSON.stringify(extracts) },
      summary: [
        '## ops logs',
        '',
        markdownTable(
          ['Host', 'Log', 'Matched', 'Kept', 'File', 'Note'],
          extracts.map((e) => [
            e.host,
            `${e.kind} (${e.path})`,
            String(e.matched),
            String(e.kept),
            e.file,
            e.note ?? '',
          ]),
        ),
      ].join('\n'),
    };
  },
};
