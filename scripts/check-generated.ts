/**
 * Generated files must match their sources: rebuilds every bundle (the actions' and the CLI's), README
 * table and the CLI's action specs, then fails if git sees any difference in them (changed or untracked).
 */
import { execFileSync } from 'node:child_process';
import { repoRoot } from './actions.js';

const run = (command: string, args: string[]) =>
  execFileSync(command, args, { cwd: repoRoot, stdio: 'inherit' });
run('npm', ['run', '--silent', 'build']);
run('npm', ['run', '--silent', 'docs']);
const drift = execFileSync(
  'git',
  [
    'status',
    '--porcelain',
    '--untracked-files=all',
    '--',
    ':(glob)action-*/dist/**',
    ':(glob)action-*/README.md',
    'cli/dist',
    'cli/action-specs.ts',
  ],
  {
    cwd: repoRoot,
  },
)
  .toString()
  .trim();
if (drift !== '') {
  console.error(
    `Generated files are stale (rebuild with \`npm run build && npm run docs\` and commit):\n${drift}`,
  );
  execFileSync(
    'git',
    [
      '--no-pager',
      'diff',
      '--stat',
      '--',
      ':(glob)action-*/dist/**',
      ':(glob)action-*/README.md',
      'cli/dist',
      'cli/action-specs.ts',
    ],
    { cwd: repoRoot, stdio: 'inherit' },
  );
  process.exit(1);
}
console.log(
  'generated files are fresh: every action-*/dist, README table, cli/dist and cli/action-specs.ts matches its sources',
);
