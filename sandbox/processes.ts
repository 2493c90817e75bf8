/**
 * Every process the sandbox starts is registered here by pid, and `stopAll` ends them and proves
 * it: a process that survives makes the stop fail, so a test cannot leak a daemon unnoticed.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export interface TrackedProcess {
  pid: number;
  name: string;
  /** When it started (clock ticks since boot, /proc/<pid>/stat field 22): tells it from a later process given the same pid. */
  startTime?: string;
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

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Still the process we started. pids are reused (pid_max is 32768 here): a tracked sshd that a fault
 * test killed long ago may share its pid with someone else's process by the time the droplet stops,
 * and signalling it would kill an innocent (it once cancelled a concurrent test's action with SIGTERM).
 */
function isOurs(proc: TrackedProcess): boolean {
  return isAlive(proc.pid) && (proc.startTime === undefined || startTimeOf(proc.pid) === proc.startTime);
}

async function waitForExit(proc: TrackedProcess, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!isOurs(proc)) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return !isOurs(proc);
}

export class ProcessTracker {
  private readonly tracked: TrackedProcess[] = [];

  add(process: TrackedProcess): void {
    const startTime = process.startTime ?? startTimeOf(process.pid);
    this.tracked.push({ ...process, ...(startTime !== undefined ? { startTime } : {}) });
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
      if (!isOurs(proc)) continue; // gone already, or its pid now belongs to another process
      if (proc.stop) await proc.stop().catch(() => undefined);
      if (isOurs(proc)) {
        try {
          process.kill(proc.pid, 'SIGTERM');
        } catch {
          // already gone
        }
        if (!(await waitForExit(proc, 3000)) && isOurs(proc)) {
          try {
            process.kill(proc.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      if (!(await waitForExit(proc, 2000))) survivors.push(`${proc.name} (pid ${proc.pid})`);
    }
    if (survivors.length > 0)
      throw new Error(`sandbox: processes survived the stop: ${survivors.join(', ')}`);
  }
}
