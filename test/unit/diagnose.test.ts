/** Diagnose's pure parts: parsing what the host printed, the severity rules, the shapes of secrets. */
import { describe, expect, it } from '@jest/globals';
import { redactShapes } from '../../shared/src/diagnose/redaction.js';
import { parseHostFacts } from '../../shared/src/diagnose/host-facts.js';
import { judge, overallSeverity, type Observations } from '../../shared/src/diagnose/judge.js';

const printed = `@@pm2
[{"name":"api","pmId":0,"status":"online","restarts":5,"unstableRestarts":0,"uptimeMs":4000,"memoryBytes":104857600,"cpuPercent":3,"execMode":"fork_mode","errLog":"/l/api-error.log","outLog":"/l/api-out.log"}]
@@loadavg
5.10 2.00 1.00 2/300 1234
@@nproc
2
@@meminfo
MemTotal:        2000000 kB
MemFree:          100000 kB
MemAvailable:     150000 kB
SwapTotal:             0 kB
SwapFree:              0 kB
@@df
Filesystem     1024-blocks     Used Available Capacity Mounted on
/dev/vda1         50000000 48000000   2000000      96% /
tmpfs              1000000        0   1000000       0% /dev/shm
/dev/vdb1         10000000  9000000   1000000      90% /var/www
@@top
  812 300000  2.5 node
   77  20000  0.0 sshd
@@ports
LISTEN 0      511        127.0.0.1:3000      0.0.0.0:*
LISTEN 0      128          0.0.0.0:22        0.0.0.0:*`;

describe('host facts', () => {
  it('parses every section; kernel mounts are left out', () => {
    const f = parseHostFacts(printed);
    expect(f.apps[0]).toMatchObject({
      name: 'api',
      status: 'online',
      restarts: 5,
      uptimeMs: 4000,
      errLog: '/l/api-error.log',
    });
    expect(f.load).toEqual([5.1, 2, 1]);
    expect(f.cpus).toBe(2);
    expect(f.memory).toMatchObject({ totalKb: 2_000_000, availableKb: 150_000 });
    expect(f.disks.map((d) => [d.mount, d.usedPercent])).toEqual([
      ['/', 96],
      ['/var/www', 90],
    ]);
    expect(f.topByMemory[0]).toEqual({ pid: 812, rssKb: 300_000, cpu: 2.5, command: 'node' });
    expect(f.listening).toEqual(['127.0.0.1:3000', '0.0.0.0:22']);
  });

  it('a pm2 whose daemon is not running is said so (asking would start it)', () => {
    expect(parseHostFacts('@@pm2\nPM2-NOT-RUNNING /home/deploy/.pm2\n@@nproc\n1').pm2Error).toMatch(
      /daemon is not running \(no live pid in \/home\/deploy\/\.pm2\/pm2\.pid\)/,
    );
  });
});

describe('judging', () => {
  const base = (facts = parseHostFacts(printed)): Observations => ({
    app: 'api',
    hosts: [{ host: 'web1', facts, errorLines: 0 }],
    external: [],
    slowMs: 2000,
    diskWarnPercent: 85,
  });

  it('orders findings most severe first, each with a next step', () => {
    const findings = judge(base());
    expect(findings.map((f) => `${f.severity} ${f.check}`)).toEqual([
      'P1 memory', // 7.5% available
      'P1 disk', // / at 96%
      'P2 load', // 5.1 on 2 CPUs
      'P3 pm2', // 5 restarts, up 4 s, none while watched: restarted recently
      'P3 disk', // /var/www at 90%
    ]);
    expect(findings.every((f) => f.next.length > 10)).toBe(true);
    expect(overallSeverity(findings)).toBe('P1');
  });

  it('restarts while diagnose watched are a crash loop (P1)', () => {
    const facts = parseHostFacts(printed);
    (facts.apps[0] as (typeof facts.apps)[number]).restartsInWindow = 2;
    expect(judge(base(facts))[0]).toMatchObject({
      severity: 'P1',
      check: 'pm2',
      why: expect.stringContaining('is crash-looping: 2 restart(s)'),
    });
  });

  it('the API down is P0; a slow answer P2; a degraded one P1', () => {
    const o = base(parseHostFacts('@@pm2\n[]\n@@nproc\n1'));
    const probe = { attempt: 1, url: 'u', at: '', warnings: [] };
    const host = o.hosts[0] as (typeof o.hosts)[number];
    host.health = { ...probe, ok: false, refused: true, failure: 'connection refused' };
    expect(judge(o).map((f) => `${f.severity} ${f.check}`)).toEqual(['P0 health', 'P0 pm2']);
    host.health = {
      ...probe,
      ok: false,
      statusCode: 200,
      latencyMs: 2600,
      failure: 'answered in 2600 ms, slower than max-latency 2000 ms',
      failureKind: 'latency',
    };
    expect(judge(o)[1]).toMatchObject({ severity: 'P2', check: 'health' });
    host.health = {
      ...probe,
      ok: false,
      statusCode: 200,
      latencyMs: 20,
      failure: 'services.redis is "disconnected"',
    };
    expect(judge(o)[1]).toMatchObject({ severity: 'P1', check: 'health' });
    expect(overallSeverity([])).toBe('OK');
  });
});

describe('redacting shapes', () => {
  it('bearer tokens, URL passwords and password pairs', () => {
    expect(redactShapes('Authorization: Bearer abcdefghijkl.mnop')).toBe('Authorization: Bearer ***');
    expect(redactShapes('postgres://app:s3cr3t@db:5432/x and redis://:pw123456@cache:6379')).toBe(
      'postgres://app:***@db:5432/x and redis://:***@cache:6379',
    );
    expect(redactShapes('login failed password=hunter2 user=bob')).toBe('login failed password=*** user=bob');
  });
});
