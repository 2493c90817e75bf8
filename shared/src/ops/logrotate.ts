/**
 * The runbook's pm2-logrotate settings, checked on every host against `max-size`, `retain` and
 * `compress` (read from pm2's module_conf.json, which asking pm2 itself could not do without
 * starting its daemon), set with `pm2 set` when asked and read back; rotated logs beyond `retain`
 * are reported (pm2-logrotate deletes them itself on its next run), never deleted here.
 */
import { ConfigurationError, OperationError } from '../errors.js';
import type { Log } from '../log.js';
import type { SshOptions } from '../ssh/connect.js';
import { CONNECT_PARALLEL } from '../fleet/hosts.js';
import { onEveryHost } from '../fleet/each-host.js';
import { sh } from '../ssh/shell.js';
import type { SshTarget } from '../ssh/target.js';

export interface LogrotateWanted {
  max_size: string;
  retain: string;
  compress: string;
}

export interface LogrotateHost {
  host: string;
  installed: boolean;
  /** The settings as found (pm2-logrotate's defaults where unset). */
  found: LogrotateWanted;
  differs: (keyof LogrotateWanted)[];
  set: boolean;
  /** Rotated files beyond `retain`, per log. */
  beyondRetain: string[];
}

/** pm2-logrotate's own defaults, what an unset key means. */
const DEFAULTS: LogrotateWanted = { max_size: '10M', retain: '30', compress: 'false' };

export function parseWanted(raw: { maxSize: string; retain: string; compress: string }): LogrotateWanted {
  if (!/^\d+[KMG]?$/.test(raw.maxSize))
    throw new ConfigurationError(
      'max-size',
      `${JSON.stringify(raw.maxSize)} is not a size such as 10M, 500K or 1G.`,
    );
  if (!/^\d{1,4}$/.test(raw.retain) || Number(raw.retain) < 1)
    throw new ConfigurationError(
      'retain',
      `${JSON.stringify(raw.retain)} is not a count of rotated files (1-9999).`,
    );
  if (!['true', 'false'].includes(raw.compress))
    throw new ConfigurationError('compress', `${JSON.stringify(raw.compress)} is not true or false.`);
  return { max_size: raw.maxSize, retain: raw.retain, compress: raw.compress };
}

export async function checkLogrotate(
  options: { hosts: SshTarget[]; ssh: SshOptions; wanted: LogrotateWanted; set: boolean; dryRun: boolean },
  log: Log,
): Promise<LogrotateHost[]> {
  return onEveryHost(
    options.hosts,
    options.ssh,
    { log: log },
    CONNECT_PARALLEL,
    async (session, { name: host }) => {
      const read = async () => {
        const { stdout } = await session.run(
          'read pm2-logrotate settings and rotated logs',
          sh`home=\${PM2_HOME:-$HOME/.pm2}
echo "@@installed"; [ -d "$home/modules/pm2-logrotate" ] && echo yes || echo no
echo "@@conf"; cat "$home/module_conf.json" 2>/dev/null || printf '{}'; echo
echo "@@rotated"; ls -1 -- "$home/logs" 2>/dev/null | grep -E '__[0-9]{4}-[0-9]{2}-[0-9]{2}' || true`,
        );
        const part = (name: string) => (stdout.split(`@@${name}\n`)[1] ?? '').split('\n@@')[0] ?? '';
        let conf: Record<string, unknown> = {};
        try {
          conf = ((JSON.parse(part('conf')) as Record<string, Record<string, unknown>>)['pm2-logrotate'] ??
            {}) as Record<string, unknown>;
        } catch {
          // an unreadable module_conf.json: every setting reads as its default
        }
        const found: LogrotateWanted = {
          max_size: String(conf.max_size ?? DEFAULTS.max_size),
          retain: String(conf.retain ?? DEFAULTS.retain),
          compress: String(conf.compress ?? DEFAULTS.compress),
        };
        const rotated = part('rotated').split('\n').filter(Boolean);
        return { installed: part('installed').trim() === 'yes', found, rotated };
      };
      let state = await read();
      const differs = (Object.keys(options.wanted) as (keyof LogrotateWanted)[]).filter(
        (k) => state.found[k] !== options.wanted[k],
      );
      let set = false;
      if (differs.length && options.set && !options.dryRun) {
        for (const key of differs)
          await session.run(
            `pm2 set pm2-logrotate:${key}`,
            sh`pm2 set ${`pm2-logrotate:${key}`} ${options.wanted[key]}`,
          );
        state = await read();
        const still = differs.filter((k) => state.found[k] !== options.wanted[k]);
        if (still.length)
          throw new OperationError(
            `pm2 set did not take for ${still.join(', ')}`,
            'check `pm2 conf pm2-logrotate` on the host.',
          );
        set = true;
      }
      // The policy asked for decides what is too old; the names carry the rotation time, newest last.
      const retain = Number(options.wanted.retain);
      const byLog = new Map<string, string[]>();
      for (const file of state.rotated) {
        const base = file.replace(/__\d{4}-\d{2}-\d{2}.*$/, '');
        byLog.set(base, [...(byLog.get(base) ?? []), file]);
      }
      const beyondRetain = [...byLog.values()].flatMap((files) => files.sort().reverse().slice(retain));
      if (!state.installed)
        log.warn(
          `${host}: pm2-logrotate is not installed: pm2 logs grow without bound (\`pm2 install pm2-logrotate\`)`,
        );
      if (!set && differs.length)
        log.warn(
          `${host}: pm2-logrotate ${differs.map((k) => `${k} is ${state.found[k]}, wanted ${options.wanted[k]}`).join('; ')}${options.set ? '' : ' (logrotate-set: true sets them)'}`,
        );
      if (beyondRetain.length)
        log.warn(
          `${host}: ${beyondRetain.length} rotated log file(s) beyond retain ${retain}: ${beyondRetain.slice(0, 5).join(', ')}${beyondRetain.length > 5 ? ' …' : ''}`,
        );
      return {
        host,
        installed: state.installed,
        found: state.found,
        differs: set ? [] : differs,
        set,
        beyondRetain,
      };
    },
  );
}
