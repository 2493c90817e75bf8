/**
 * Every process the sandbox starts is registered here by pid, and `stopAll` ends them and proves
 * it: a process that survives makes the stop fail, so a test cannot leak a daemon unnoticed.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export interface TrackedProcess {
  pid: number;
  name: string;
  /** How to ask it to stop before signals (pg_ctl stop, pm2 kill); runs before SIGTERM. */
  stop?: () => Promise<void>;
}

/** Running, as opposed to gone or a zombie waiting for a parent (here often PID 1) to reap it. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // Field 3 of /proc/<pid>/stat is the state; the command name before it may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return existsSync('/proc/self') ? false : true;
  }
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!isAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return !isAlive(pid);
}

export class ProcessTracker {
  private readonly tracked: TrackedProcess[] = [];

  add(process: TrackedProcess): void {
    this.tracked.push(process);
  }

  /** Pids registered so far (for tests that check nothing survives). */
  pids(): number[] {
    return this.tracked.map((p) => p.pid);
  }

  /** Spawns a long-running child, registered at once so it is stopped even if setup fails later. */
  spawn(name: string, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn(command, args, { stdio: 'ignore', ...options });
    if (child.pid === undefined) throw new Error(`sandbox: could not start ${name} (${command})`);
    this.add({ pid: child.pid, name });
    return child;
  }

  /** Stops everything, newest first; throws naming any process that is still alive afterwards. */
  async stopAll(): Promise<void> {
    const survivors: string[] = [];
    for (const proc of this.tracked.splice(0).reverse()) {
      if (proc.stop && isAlive(proc.pid)) await proc.stop().catch(() => undefined);
      if (isAlive(proc.pid)) {
        try {
          process.kill(proc.pid, 'SIGTERM');
        } catch {
          // already gone
        }
        if (!(await waitForExit(proc.pid, 3000))) {
          try {
            process.kill(proc.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      if (!(await waitForExit(proc.pid, 2000))) survivors.push(`${proc.name} (pid ${proc.pid})`);
    }
    if (survivors.length > 0)
      throw new Error(`sandbox: processes survived the stop: ${survivors.join(', ')}`);
  }
}
