/**
 * Bundles each action's src/main.ts into its dist/ with ncc: one bundle per action holding only
 * what that action imports; and the CLI into one standalone file, cli/dist/runbook.mjs.
 * `npm run build -- action-health` builds one (`cli` the CLI).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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

/**
 * The CLI as ONE file that runs with plain node ≥ 20, fetched alone from a pinned commit. ncc cannot
 * make that: it splits every dynamic import into a chunk file and leaves the parser's .wasm beside
 * the bundle. esbuild (already here under tsx) inlines the dynamic imports, and the .wasm is embedded:
 * libpg-query's loader is handed emscripten's own `instantiateWasm` hook, which instantiates the
 * embedded bytes instead of reading a file (this build of emscripten reads no `wasmBinary`). The banner gives the CommonJS code inside (ssh2) the require/__dirname that ESM lacks.
 */
async function buildCli(): Promise<void> {
  const started = performance.now();
  const { build } = await import('esbuild');
  const outfile = join(repoRoot, 'cli', 'dist', 'runbook.mjs');
  rmSync(join(repoRoot, 'cli', 'dist'), { recursive: true, force: true });
  await build({
    entryPoints: [join(repoRoot, 'cli', 'runbook.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // ESM builds first (libpg-query's is the one patched below), as ncc resolves them.
    mainFields: ['module', 'main'],
    minify: true,
    legalComments: 'none',
    // ssh2's optional native crypto and cpu-features are tried in a try/catch: pure JS without them.
    external: ['*.node'],
    logLevel: 'warning',
    banner: {
      js: [
        '#!/usr/bin/env node',
        "import { createRequire as __runbookRequire } from 'node:module';",
        "import { fileURLToPath as __runbookPath } from 'node:url';",
        "import { dirname as __runbookDir } from 'node:path';",
        'const require = __runbookRequire(import.meta.url);',
        'const __filename = __runbookPath(import.meta.url);',
        'const __dirname = __runbookDir(__filename);',
      ].join('\n'),
    },
    plugins: [
      {
        name: 'embed-libpg-query-wasm',
        setup(plugin) {
          plugin.onLoad({ filter: /libpg-query[\\/]wasm[\\/]index\.js$/ }, (args) => {
            const source = readFileSync(args.path, 'utf8');
            if (!source.includes('PgQueryModule()'))
              throw new Error(
                `${args.path}: PgQueryModule() not found — libpg-query changed; see scripts/build.ts`,
              );
            const wasm = readFileSync(PARSER_WASM).toString('base64');
            return {
              contents: source.replace(
                'PgQueryModule()',
                `PgQueryModule({ instantiateWasm: (imports, done) => { WebAssembly.instantiate(Buffer.from(${JSON.stringify(wasm)}, 'base64'), imports).then((r) => done(r.instance)); return {}; } })`,
              ),
              loader: 'js',
            };
          });
        },
      },
    ],
  });
  chmodSync(outfile, 0o755);
  console.log(`built cli/dist/runbook.mjs in ${Math.round(performance.now() - started)} ms`);
}

if (wanted.length === 0 || wanted.includes('cli')) await buildCli();
