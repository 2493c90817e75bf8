/**
 * Releases of the sandbox's second app (`sandbox/real-app/`), built as real TypeScript APIs are:
 * `tsc` compiles src/ into dist/ once per test process; each release holds package.json (whose
 * `start` is `node dist/index.js`), dist/ and node_modules (a link to this project's, which holds
 * dotenv, pg and redis: no registry is needed to deploy it).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const APP = join(dirname(fileURLToPath(import.meta.url)), 'real-app');
const NODE_MODULES = join(APP, '..', '..', 'node_modules');

let built: string | undefined;

/** dist/ compiled by the project's own TypeScript, once. */
function buildOnce(): string {
  if (built) return built;
  const out = mkdtempSync(join(tmpdir(), 'runbook-real-app-'));
  execFileSync(
    process.execPath,
    [join(NODE_MODULES, 'typescript', 'bin', 'tsc'), '-p', APP, '--outDir', join(out, 'dist')],
    {
      stdio: 'pipe',
    },
  );
  built = out;
  return out;
}

export interface RealAppRelease {
  /** `crash-at-start`: a build whose entry throws before listening (a broken release). */
  broken?: 'crash-at-start';
  /** Leave node_modules out (a release whose dependencies were never installed). */
  withoutDependencies?: boolean;
  /** Also ship an ecosystem.config.js naming this entry (pm2's way). */
  ecosystem?: { name: string; script: string };
}

export function makeRealAppRelease(dir: string, release: RealAppRelease = {}): string {
  const build = buildOnce();
  mkdirSync(dir, { recursive: true });
  cpSync(join(build, 'dist'), join(dir, 'dist'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), readFileSync(join(APP, 'package.json')));
  if (!release.withoutDependencies) symlinkSync(NODE_MODULES, join(dir, 'node_modules'));
  if (release.broken === 'crash-at-start')
    writeFileSync(join(dir, 'dist', 'index.js'), "throw new Error('a broken build: crashing at start');\n");
  if (release.ecosystem) {
    // NODE_OPTIONS and LD_LIBRARY_PATH in its env would change the pm2 command itself: who-runs.cjs
    // records every node that loads it, to prove only the app does.
    writeFileSync(
      join(dir, 'who-runs.cjs'),
      "require('fs').appendFileSync(require('path').join(__dirname, 'who-ran.txt'), process.argv[1] + '\\n');\n",
    );
    const env = {
      SECRET_IN_ECOSYSTEM: 'never printed',
      NODE_OPTIONS: '--require ./who-runs.cjs',
      LD_LIBRARY_PATH: '/nonexistent',
    };
    writeFileSync(
      join(dir, 'ecosystem.config.js'),
      `module.exports = { apps: [{ name: ${JSON.stringify(release.ecosystem.name)}, script: ${JSON.stringify(release.ecosystem.script)}, env: ${JSON.stringify(env)} }] };\n`,
    );
  }
  return dir;
}
