/** The entry point found the way pm2 and npm find it (shared/src/releases/entry.ts). */
import { describe, expect, it } from '@jest/globals';
import {
  chooseEntry,
  describeEntry,
  parseStartScript,
  type EntryFacts,
} from '../../shared/src/releases/entry.js';

describe('parseStartScript', () => {
  it.each([
    ['node dist/index.js', { script: 'dist/index.js', nodeArgs: [], args: [], env: {} }],
    [
      'node ./dist/server.js --port 3000',
      { script: 'dist/server.js', nodeArgs: [], args: ['--port', '3000'], env: {} },
    ],
    [
      'NODE_ENV=production node -r dotenv/config --enable-source-maps build/main.js',
      {
        script: 'build/main.js',
        nodeArgs: ['-r', 'dotenv/config', '--enable-source-maps'],
        args: [],
        env: { NODE_ENV: 'production' },
      },
    ],
    [
      'cross-env NODE_ENV=production node "dist/index.js"',
      { script: 'dist/index.js', nodeArgs: [], args: [], env: { NODE_ENV: 'production' } },
    ],
    [
      'node --max-old-space-size=512 dist/index.js',
      { script: 'dist/index.js', nodeArgs: ['--max-old-space-size=512'], args: [], env: {} },
    ],
    // NODE_OPTIONS would run inside the pm2 command that starts the app: it becomes the app's node flags.
    [
      'NODE_ENV=production NODE_OPTIONS="--max-old-space-size=2048 --enable-source-maps" node --trace-warnings dist/index.js',
      {
        script: 'dist/index.js',
        nodeArgs: ['--max-old-space-size=2048', '--enable-source-maps', '--trace-warnings'],
        args: [],
        env: { NODE_ENV: 'production' },
      },
    ],
  ])('%s', (command, expected) => {
    expect(parseStartScript(command)).toEqual(expected);
  });

  it.each([
    'LD_PRELOAD=/tmp/x.so node dist/index.js',
    'PATH=/opt/node/bin node dist/index.js',
    'ts-node src/index.ts',
    'npm run build && node dist/index.js',
    'node dist/index.js | pino-pretty',
    'node ../outside.js',
    'node /abs/path.js',
    'nest start',
    'node',
  ])('refuses %s', (command) => {
    expect(parseStartScript(command)).toBeUndefined();
  });
});

describe('chooseEntry', () => {
  const facts = (over: Partial<EntryFacts>): EntryFacts => ({ files: [], ...over });

  it('takes the ecosystem app of that name first', () => {
    const entry = chooseEntry(
      facts({
        ecosystem: {
          file: 'ecosystem.config.js',
          apps: [
            { name: 'worker', script: 'dist/worker.js' },
            { name: 'api', script: './dist/api.js', node_args: '--enable-source-maps', args: ['--x'] },
          ],
        },
        package: { start: 'node dist/index.js' },
        files: ['dist/api.js', 'dist/index.js', 'dist/worker.js'],
      }),
      'api',
      'h',
    );
    expect(entry).toEqual({
      script: 'dist/api.js',
      nodeArgs: ['--enable-source-maps'],
      args: ['--x'],
      env: {},
      ecosystem: { file: 'ecosystem.config.js', app: 'api' },
      source: 'ecosystem.config.js (app api)',
    });
  });

  it("gives its env's NODE_OPTIONS to the app as node flags and names what it keeps from the pm2 command", () => {
    const entry = chooseEntry(
      facts({
        ecosystem: {
          file: 'ecosystem.config.js',
          apps: [
            {
              name: 'api',
              script: 'dist/api.js',
              node_args: ['--enable-source-maps'],
              node_options: '--max-old-space-size=2048',
              held_back: ['NODE_OPTIONS', 'PATH'],
            },
          ],
        },
        files: ['dist/api.js'],
      }),
      'api',
      'h',
    );
    expect(entry.nodeArgs).toEqual(['--max-old-space-size=2048', '--enable-source-maps']);
    expect(describeEntry(entry)).toBe(
      'node --max-old-space-size=2048 --enable-source-maps dist/api.js (ecosystem.config.js (app api); PATH of its env left out: it changes how the pm2 command itself runs)',
    );
  });

  it('falls through an ecosystem that does not name a file, to package.json start, then main, then server.js', () => {
    const eco = { file: 'ecosystem.config.js', apps: [{ name: 'api', script: 'npm' }, { name: 'b' }] };
    expect(
      chooseEntry(
        facts({ ecosystem: eco, package: { start: 'node dist/index.js' }, files: ['dist/index.js'] }),
        'api',
        'h',
      ).source,
    ).toBe('package.json scripts.start');
    expect(
      chooseEntry(
        facts({ package: { start: 'ts-node src/index.ts', main: 'lib/index.js' }, files: ['lib/index.js'] }),
        'api',
        'h',
      ),
    ).toMatchObject({
      script: 'lib/index.js',
      source: 'package.json main',
    });
    expect(chooseEntry(facts({ files: ['server.js'] }), 'api', 'h').source).toBe('server.js (the default)');
  });

  it('lists every place looked at when nothing is found', () => {
    expect(() =>
      chooseEntry(
        facts({
          ecosystem: { file: 'ecosystem.config.cjs', error: 'Cannot find module dotenv' },
          package: { start: 'node dist/index.js', main: 'dist/index.js' },
        }),
        'api',
        'host:/app/releases/x',
      ),
    ).toThrow(
      /host:\/app\/releases\/x: no entry point found for api\. Looked at: ecosystem\.config\.cjs: could not be loaded \(Cannot find module dotenv\); package\.json scripts\.start runs dist\/index\.js, not in the release \(not built\?\); package\.json main "dist\/index\.js": not in the release; server\.js: not in the release\./,
    );
  });

  it('describes an entry without env values', () => {
    expect(
      describeEntry({
        script: 'dist/index.js',
        nodeArgs: ['-r', 'dotenv/config'],
        args: [],
        env: { SECRET: 'x1' },
        source: 'package.json scripts.start',
      }),
    ).toBe('SECRET set node -r dotenv/config dist/index.js (package.json scripts.start)');
  });
});
