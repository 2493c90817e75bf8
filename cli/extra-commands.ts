/**
 * Commands that are not one action: `drill` (the disaster-recovery drill, from a clone of this
 * repository — it needs the sandbox, which the standalone bundle does not carry).
 */
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The clone this file is in (cli/ or cli/dist/), if it has the drill and its tools. */
function cloneRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 3; i++, dir = dirname(dir))
    if (existsSync(join(dir, 'cli', 'drill.ts')) && existsSync(join(dir, 'node_modules', 'tsx'))) return dir;
  return undefined;
}

export function extraCommands(
  program: Command,
  io: { stderr: (text: string) => void },
  done: (code: Promise<number>) => void,
): void {
  program
    .command('drill')
    .summary('the disaster-recovery drill against a disposable local droplet (from a clone)')
    .description(
      'Runs every procedure through its committed bundle against a disposable local droplet and writes drill-report.md. Needs a clone of runbook-actions with `npm ci --ignore-scripts` done.',
    )
    .option('--list', 'name the scenarios and run none')
    .option('--only <names>', 'run only these scenarios (comma-separated)')
    .action((options: { list?: boolean; only?: string }) => {
      const root = cloneRoot();
      if (!root) {
        io.stderr(
          'error: the drill runs from a clone of runbook-actions: git clone …, npm ci --ignore-scripts, then npm run drill.\n',
        );
        done(Promise.resolve(2));
        return;
      }
      const args = [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'cli', 'drill.ts')];
      if (options.list) args.push('--list');
      if (options.only) args.push('--only', options.only);
      done(
        new Promise((resolve) => {
          const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
          child.on('exit', (code, signal) => resolve(signal ? 1 : (code ?? 1)));
          child.on('error', () => resolve(1));
        }),
      );
    });
}
