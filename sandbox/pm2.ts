/**
 * pm2 for the sandbox, always with PM2_HOME inside the sandbox (any pm2 command without it starts
 * a daemon in ~/.pm2). Stopping kills the daemon and every app it ran, and proves they are gone.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { isAlive, type ProcessTracker } from './processes.js';
import { machineNode } from './runner-node.js';

const run = promisify(execFile);
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const PM2_BIN_DIR = join(repoRoot, 'node_modules', '.bin');
const PM2 = join(repoRoot, 'node_modules', 'pm2', 'bin', 'pm2');

export interface Pm2Process {
  name: string;
  pid: number;
  pm_id: number;
  pm2_env: { status: string; restart_time: number; pm_cwd?: string; exec_mode?: string };
}

export class SandboxPm2 {
  private registered = false;
  /** pm2 commands run one at a time: two concurrent first commands each start a daemon. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly home: string,
    private readonly tracker: ProcessTracker,
    /** The droplet's Node: pm2 and the app run on it. */
    readonly node: string = machineNode,
  ) {}

  /** The environment every pm2 invocation (local or over ssh) must have. */
  get env(): Record<string, string> {
    return {
      PM2_HOME: this.home,
      PM2_DISCRETE_MODE: 'true',
      PATH: [
        dirname(this.node),
        PM2_BIN_DIR,
        '/usr/local/sbin',
        '/usr/local/bin',
        '/usr/sbin',
        '/usr/bin',
        '/sbin',
        '/bin',
      ].join(':'),
    };
  }

  command(args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
    const next = this.queue.then(async () => {
      try {
        const { stdout } = await run(this.node, [PM2, ...args], {
          env: { ...process.env, ...this.env, ...extraEnv },
          maxBuffer: 64 * 1024 * 1024,
        });
        return stdout;
      } finally {
        this.registerDaemon();
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** `pm2 jlist`, tolerant of anything printed before the JSON. */
  async list(): Promise<Pm2Process[]> {
    const out = await this.command(['jlist']);
    const start = out.indexOf('[');
    return start === -1 ? [] : (JSON.parse(out.slice(start)) as Pm2Process[]);
  }

  daemonPid(): number | undefined {
    const file = join(this.home, 'pm2.pid');
    return existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : undefined;
  }

  private registerDaemon(): void {
    if (this.registered) return;
    const pid = this.daemonPid();
    if (pid === undefined) return;
    this.registered = true;
    this.tracker.add({ pid, name: 'pm2 daemon', stop: () => this.kill() });
  }

  /** `pm2 kill`, then makes sure the daemon and every app process are gone; throws if one survives. */
  async kill(): Promise<void> {
    const daemon = this.daemonPid();
    if (daemon === undefined || !isAlive(daemon)) return;
    const apps = (await this.list().catch(() => [])).map((p) => p.pid).filter((pid) => pid > 0);
    await run(this.node, [PM2, 'kill'], { env: { ...process.env, ...this.env } }).catch(() => undefined);
    const survivors: number[] = [];
    for (const pid of [...apps, daemon]) {
      for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 30));
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 50 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 20));
      if (isAlive(pid)) survivors.push(pid);
    }
    if (survivors.length > 0)
      throw new Error(`sandbox: pm2 processes survived the stop: ${survivors.join(', ')}`);
  }
}
