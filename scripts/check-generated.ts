/**
 * Generated files must match their sources: rebuilds every bundle and README table, then fails
 * if git sees any difference under action-*\/dist or in an action README (changed or untracked).
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
    ['--no-pager', 'diff', '--stat', '--', ':(glob)action-*/dist/**', ':(glob)action-*/README.md'],
    { cwd: repoRoot, stdio: 'inherit' },
  );
  process.exit(1);
}
console.log('generated files are fresh: every action-*/dist and README table matches its sources');
