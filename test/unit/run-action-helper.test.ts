/** The runner-faithful helper and its leak guard must themselves be right, or every e2e test is hollow. */
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  inputEnvName,
  parseAnnotations,
  parseKeyValueFile,
  runActionBundle,
} from '../../sandbox/action-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'runbook-fake-action-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A tiny action that behaves as its script says, to exercise the helper. */
function fakeAction(script: string): string {
  const actionDir = mkdtempSync(join(dir, 'a-'));
  mkdirSync(join(actionDir, 'dist'));
  writeFileSync(
    join(actionDir, 'action.yml'),
    [
      'name: fake',
      'inputs:',
      '  token:',
      "    default: ''",
      '  my input:',
      "    default: 'the default'",
      'runs:',
      '  using: node24',
      '  main: dist/index.js',
      '',
    ].join('\n'),
  );
  writeFileSync(join(actionDir, 'dist', 'index.js'), script);
  return actionDir;
}

const echoOutputs = `
const fs = require('fs');
fs.appendFileSync(process.env.GITHUB_OUTPUT, 'plain=' + process.env['INPUT_MY_INPUT'] + '\\n');
fs.appendFileSync(process.env.GITHUB_OUTPUT, 'multi<<EOF_1\\nline 1\\nline 2\\nEOF_1\\n');
`;

describe('runActionBundle', () => {
  it('passes inputs the runner way, fills defaults and parses outputs', async () => {
    const run = await runActionBundle('fake', {}, { actionDir: fakeAction(echoOutputs) });
    expect(run.exitCode).toBe(0);
    expect(run.outputs).toEqual({ plain: 'the default', multi: 'line 1\nline 2' });
  });

  it('refuses inputs the action does not declare (a typo in a test)', async () => {
    await expect(runActionBundle('fake', { tokn: 'x' }, { actionDir: fakeAction('') })).rejects.toThrow(
      /declares no input .tokn./,
    );
  });

  it('fails the test when a secret is printed unmasked', async () => {
    const actionDir = fakeAction(`console.log('token is ' + process.env.INPUT_TOKEN)`);
    await expect(
      runActionBundle('fake', { token: 'hunter2-secret' }, { actionDir, secrets: ['hunter2-secret'] }),
    ).rejects.toThrow('secret leaked unmasked in: stdout (secret #1)');
  });

  it('finds a leak in outputs, the summary, stderr, and a line of a multi-line secret', async () => {
    const key = '-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\n-----END KEY-----';
    const actionDir = fakeAction(`
      const fs = require('fs');
      fs.appendFileSync(process.env.GITHUB_OUTPUT, 'x=' + process.env.INPUT_TOKEN + '\\n');
      fs.appendFileSync(process.env.GITHUB_STEP_SUMMARY, process.env.INPUT_TOKEN);
      console.error('AAAABBBBCCCCDDDD');`);
    await expect(
      runActionBundle('fake', { token: 'sekrit-value' }, { actionDir, secrets: ['sekrit-value', key] }),
    ).rejects.toThrow(
      'secret leaked unmasked in: stderr (secret #2), outputs (secret #1), summary (secret #1)',
    );
  });

  it('does not count the ::add-mask:: command itself as a leak', async () => {
    const actionDir = fakeAction(
      `console.log('::add-mask::' + process.env.INPUT_TOKEN); console.log('::error::failed with ***')`,
    );
    const run = await runActionBundle(
      'fake',
      { token: 'hunter2-secret' },
      { actionDir, secrets: ['hunter2-secret'] },
    );
    expect(run.errors).toEqual(['failed with ***']);
  });
});

describe('runner formats', () => {
  it('names inputs as the runner does', () => {
    expect(inputEnvName('max-attempts')).toBe('INPUT_MAX-ATTEMPTS');
    expect(inputEnvName('my input')).toBe('INPUT_MY_INPUT');
  });
  it('undoes annotation escaping', () => {
    expect(parseAnnotations('::warning file=a.ts,line=1::50%25 done%0Anext\nplain')).toEqual([
      { level: 'warning', message: '50% done\nnext' },
    ]);
  });
  it('reads key=value and heredoc lines', () => {
    expect(parseKeyValueFile('a=1=2\nb<<D\nx\n\ny\nD\n')).toEqual({ a: '1=2', b: 'x\n\ny' });
  });
});
