/**
 * Bundles each action's src/main.ts into its dist/ with ncc: one bundle per action holding only
 * what that action imports. `npm run build -- action-health` builds one.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { actionDirs, repoRoot } from './actions.js';

const wanted = process.argv.slice(2);
const PARSER_WASM = join(repoRoot, 'node_modules', 'libpg-query', 'wasm', 'libpg-query.wasm');
const ncc = join(repoRoot, 'node_modules', '@vercel', 'ncc', 'dist', 'ncc', 'cli.js');
for (const action of actionDirs().filter((name) => wanted.length === 0 || wanted.includes(name))) {
  const dist = join(repoRoot, action, 'dist');
  rmSync(dist, { recursive: true, force: true });
  const started = performance.now();
  execFileSync(
    process.execPath,
    [
      ncc,
      'build',
      join(action, 'src', 'main.ts'),
      '-o',
      join(action, 'dist'),
      '--minify',
      '--license',
      'licenses.txt',
      '--quiet',
    ],
    {
      cwd: repoRoot,
      stdio: 'inherit',
    },
  );
  // ncc copies ssh2's Windows Pageant helper because agent.js names it; we never use an SSH agent
  // (the key is given), so the bundle ships without it.
  rmSync(join(dist, 'pagent.exe'), { force: true });
  // libpg-query's loader finds its parser by a computed path ncc cannot follow: a bundle that holds
  // the loader gets the .wasm beside it (found there through the dirname shim).
  const loadsParser = readdirSync(dist)
    .filter((name) => name.endsWith('.js'))
    .some((name) => readFileSync(join(dist, name), 'utf8').includes('libpg-query.wasm'));
  if (loadsParser) copyFileSync(PARSER_WASM, join(dist, 'libpg-query.wasm'));
  console.log(`built ${action}/dist in ${Math.round(performance.now() - started)} ms`);
}
