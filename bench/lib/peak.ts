/** A child's peak resident set (VmHWM from /proc), sampled until it exits. */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export function watchPeak(child: ChildProcess): () => number {
  let peakKb = 0;
  const timer = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      if (kb > peakKb) peakKb = kb;
    } catch {
      /* exited */
    }
  }, 10);
  child.once('exit', () => clearInterval(timer));
  return () => peakKb / 1024;
}
