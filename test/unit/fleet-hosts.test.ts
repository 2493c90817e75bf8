/**
 * The fleet's way back after a connection that drops while it runs (retryAfterConnectionLoss): the dead
 * session is closed so the next attempt reaches the host again; past `restore-deadline` the host is
 * reported unreachable; any other error is not retried. The sshd faults themselves are in
 * test/e2e/release-faults.test.ts; this is the race they can hit only under load — a client that
 * still believes it is connected when its first command on the way back fails.
 */
import { describe, expect, it } from '@jest/globals';
import { fleetHosts, retryAfterConnectionLoss, type FleetHost } from '../../shared/src/fleet/hosts.js';
import { ConnectionLost, type SshSession } from '../../shared/src/ssh/session.js';
import { OperationError } from '../../shared/src/errors.js';
import type { Log } from '../../shared/src/log.js';

const warnings: string[] = [];
const log: Log = {
  info: () => undefined,
  warn: (m) => warnings.push(m),
  debug: () => undefined,
  group: (_t, fn) => fn(),
  mask: () => undefined,
};

function hostRun(): { run: FleetHost; closed: () => number } {
  const [run] = fleetHosts([{ user: 'deploy', host: 'api-1', port: 22 }]) as [FleetHost];
  let closes = 0;
  run.session = { close: () => void closes++ } as unknown as SshSession;
  return { run, closed: () => closes };
}

const target = (restoreDeadlineMs: number) => ({ restoreDeadlineMs });

describe('retryAfterConnectionLoss', () => {
  it('runs the way back again after a drop, closing the dead session first', async () => {
    const { run, closed } = hostRun();
    let attempts = 0;
    const result = await retryAfterConnectionLoss(run, target(60_000), log, async () => {
      if (++attempts < 3) throw new ConnectionLost('read the releases', run.name, 'ECONNRESET');
      return 'back';
    });
    expect(result).toBe('back');
    expect(attempts).toBe(3);
    expect(closed()).toBe(2);
    expect(run.report.reachable).toBe(true);
    expect(warnings.at(-1)).toMatch(/connection to deploy@api-1.* was lost during it.*reaching it again/);
  });

  it('past restore-deadline the host is reported unreachable and the loss is thrown', async () => {
    const { run } = hostRun();
    const lost = new ConnectionLost('switch back', run.name);
    await expect(retryAfterConnectionLoss(run, target(0), log, () => Promise.reject(lost))).rejects.toBe(
      lost,
    );
    expect(run.report.reachable).toBe(false);
  });

  it('any other failure is not retried: the way back says what went wrong', async () => {
    const { run, closed } = hostRun();
    let attempts = 0;
    const failed = new OperationError(
      'switched back, but it does not prove healthy either',
      'check pm2 logs',
    );
    await expect(
      retryAfterConnectionLoss(run, target(60_000), log, () => {
        attempts++;
        return Promise.reject(failed);
      }),
    ).rejects.toBe(failed);
    expect(attempts).toBe(1);
    expect(closed()).toBe(0);
    expect(run.report.reachable).toBe(true);
  });
});
