/**
 * The nginx upstream file of `traffic: nginx` (shared/src/releases/traffic.ts) and the site edit of
 * traffic-setup (shared/src/ops/traffic-setup.ts): what is read back from the file nginx reads, how
 * a site's proxy_pass lines are pointed at the upstream, and the inputs refused before anything runs.
 */
import { describe, expect, it } from '@jest/globals';
import { Inputs } from '../../shared/src/config/inputs.js';
import type { OperationError } from '../../shared/src/errors.js';
import { planSite } from '../../shared/src/ops/traffic-setup.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  NGINX_TEST_FAILED,
  parseUpstream,
  readTraffic,
  swapUpstreamCommand,
  upstreamText,
  type TrafficOptions,
} from '../../shared/src/releases/traffic.js';

const inputs = (given: Record<string, string>) =>
  new Inputs({ raw: (name) => given[name] ?? '', mask: () => undefined });

const traffic = readTraffic(
  inputs({ traffic: 'nginx', 'slot-ports': '3001,3002' }),
  'bunty-backend',
) as TrafficOptions;

describe('the upstream file', () => {
  it('reads back the slot, port and release it was written with', () => {
    const text = upstreamText('bunty-backend', {
      slot: 'green',
      port: 3002,
      release: '20261207T101010Z-abcdef1',
    });
    expect(text).toContain('upstream bunty-backend {\n    server 127.0.0.1:3002;\n}');
    expect(parseUpstream(text, traffic)).toEqual({
      port: 3002,
      slot: 'green',
      release: '20261207T101010Z-abcdef1',
    });
  });

  it('believes the server line nginx reads, not a comment that disagrees with it', () => {
    const edited = upstreamText('bunty-backend', { slot: 'green', port: 3002 }).replace(
      'server 127.0.0.1:3002;',
      'server 127.0.0.1:3001 max_fails=3;',
    );
    expect(parseUpstream(edited, traffic)).toEqual({ port: 3001, slot: 'blue' });
  });

  it('a port that is no slot is the plain app (adopted at the first deploy)', () => {
    expect(parseUpstream(upstreamText('bunty-backend', { port: 3000 }), traffic)).toEqual({ port: 3000 });
    expect(parseUpstream('# nothing here\n', traffic)).toBeUndefined();
  });
});

describe('the upstream swap (run by a real shell; nginx stood in for by commands that refuse or accept)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swap-'));
  const file = join(dir, 'bunty-upstream.conf');
  const live = { slot: 'blue' as const, port: 3001, release: '20261207T101010Z-abcdef1' };
  const swap = (commands: { test: string; reload: string }, test: boolean) => {
    writeFileSync(file, upstreamText('bunty-backend', live));
    const options = {
      ...traffic,
      upstreamFile: file,
      testCommand: commands.test,
      reloadCommand: commands.reload,
    };
    const next = { slot: 'green' as const, port: 3002, release: '20261207T111111Z-1234567' };
    const text = swapUpstreamCommand(options, 'bunty-backend', next, { test }).text;
    return spawnSync('sh', ['-c', text], { encoding: 'utf8' });
  };
  const refuse = 'echo "nginx: [emerg] unknown directive" >&2; exit 1';
  const log = join(dir, 'ran');
  const note = (what: string) => `echo ${what} >> ${log}`;

  it('tests, then reloads; a refused test puts the file back and reloads nothing', () => {
    rmSync(log, { force: true });
    expect(swap({ test: note('test'), reload: note('reload') }, true).status).toBe(0);
    expect(readFileSync(log, 'utf8')).toBe('test\nreload\n');
    expect(parseUpstream(readFileSync(file, 'utf8'), traffic)?.port).toBe(3002);
    rmSync(log, { force: true });
    const refused = swap({ test: refuse, reload: note('reload') }, true);
    expect(refused.status).toBe(NGINX_TEST_FAILED);
    expect(refused.stderr).toContain('unknown directive');
    expect(parseUpstream(readFileSync(file, 'utf8'), traffic)?.port).toBe(3001);
    expect(() => readFileSync(log)).toThrow();
  });

  it('without the test (an instant rollback), a reload that refuses the config is a refused test', () => {
    rmSync(log, { force: true });
    expect(swap({ test: note('test'), reload: note('reload') }, false).status).toBe(0);
    expect(readFileSync(log, 'utf8')).toBe('reload\n');
    const refused = swap({ test: note('test'), reload: refuse }, false);
    expect(refused.status).toBe(NGINX_TEST_FAILED);
    expect(refused.stderr).toContain('unknown directive');
    expect(parseUpstream(readFileSync(file, 'utf8'), traffic)?.port).toBe(3001);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('traffic inputs', () => {
  it('pm2 (the default) reads nothing else', () => {
    expect(readTraffic(inputs({ 'slot-ports': 'junk' }), 'bunty-backend')).toBeUndefined();
  });

  it('defaults: PORT, the conf.d file, kept until the next deploy, fall back when short of memory', () => {
    expect(traffic).toMatchObject({
      slotPorts: [3001, 3002],
      portEnv: 'PORT',
      upstreamFile: '/etc/nginx/conf.d/bunty-backend-upstream.conf',
      keepPreviousMs: 'next-deploy',
      whenShortOfMemory: 'fallback',
    });
  });

  it.each([
    [{ 'slot-ports': '3001' }, /^Input 'slot-ports': gives 1 port; traffic: nginx needs two/],
    [{ 'slot-ports': '3001,3001' }, /^Input 'slot-ports': names port 3001 twice/],
    [{ 'slot-ports': '3001,70000' }, /^Input 'slot-ports': "70000" is not a TCP port/],
    [{ 'slot-ports': '3001,3002', 'port-env': 'MY-PORT' }, /^Input 'port-env'/],
    [{ 'slot-ports': '3001,3002', 'nginx-upstream-file': 'conf.d/x;y' }, /^Input 'nginx-upstream-file'/],
    [{ 'slot-ports': '3001,3002', 'keep-previous': 'forever' }, /^Input 'keep-previous'/],
  ])('%j is refused, naming the input', (given, message) => {
    expect(() => readTraffic(inputs({ traffic: 'nginx', ...given }), 'bunty-backend')).toThrow(message);
  });
});

describe("traffic-setup's site edit", () => {
  const site = `server {
    listen 80;
    location / {
        proxy_pass http://127.0.0.1:3000; # the API
        proxy_set_header Host $host;
    }
    location /socket/ {
        proxy_pass http://localhost:3000/socket/;
    }
}
`;

  it('points every proxy_pass to the app port at the upstream, keeping paths and comments', () => {
    const plan = planSite('/etc/nginx/sites-enabled/bunty', site, 'bunty-backend');
    expect(plan.port).toBe(3000);
    expect(plan.text).toContain('proxy_pass http://bunty-backend; # the API');
    expect(plan.text).toContain('proxy_pass http://bunty-backend/socket/;');
    expect(plan.text).toContain('proxy_set_header Host $host;');
  });

  it('a site that proxies to the upstream already is left as it is', () => {
    expect(planSite('/s', 'location / { proxy_pass http://bunty-backend; }', 'bunty-backend')).toEqual({});
  });

  it('two local ports: which is the app is not guessed; the lines to change are named', () => {
    const two = `${site}server { location / { proxy_pass http://127.0.0.1:9000; } }\n`;
    expect(() => planSite('/s', two, 'bunty-backend')).toThrow(
      /proxy_pass lines to 2 local ports \(3000, 9000\)/,
    );
    const refusal = (() => {
      try {
        planSite('/s', two, 'bunty-backend');
      } catch (error) {
        return error as OperationError;
      }
    })();
    expect(refusal?.hint).toContain('change line 4 `proxy_pass http://127.0.0.1:3000; # the API`');
    expect(refusal?.hint).toContain('to `proxy_pass http://bunty-backend;` yourself');
  });
});
