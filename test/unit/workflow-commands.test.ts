/**
 * Our runner protocol (shared/src/action/workflow-commands.ts) against @actions/core, the reference
 * it replaces for start-up time: the same calls must print the same stdout and write the same
 * $GITHUB_OUTPUT / $GITHUB_STEP_SUMMARY bytes (the random heredoc delimiters aside).
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '@actions/core';
import * as ours from '../../shared/src/action/workflow-commands.js';

const awkward = 'line one\nline two\r\n100% done: a, b :: c\n';

interface Captured {
  stdout: string;
  output: string;
  summary: string;
  exitCode: typeof process.exitCode;
}

let dir: string;
const savedEnv = { ...process.env };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'workflow-commands-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  process.env = { ...savedEnv };
  process.exitCode = undefined;
});

async function capture(run: () => void | Promise<void>, withFiles = true): Promise<Captured> {
  const output = join(dir, `output-${Math.random()}`);
  const summary = join(dir, `summary-${Math.random()}`);
  writeFileSync(output, '');
  writeFileSync(summary, '');
  if (withFiles) {
    process.env.GITHUB_OUTPUT = output;
    process.env.GITHUB_STEP_SUMMARY = summary;
  } else {
    delete process.env.GITHUB_OUTPUT;
    delete process.env.GITHUB_STEP_SUMMARY;
  }
  process.exitCode = undefined;
  let stdout = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    await run();
  } finally {
    process.stdout.write = write;
  }
  const exitCode = process.exitCode;
  process.exitCode = undefined;
  const delimiters = (text: string) => text.replace(/ghadelimiter_[0-9a-f-]{36}/g, 'ghadelimiter_X');
  return {
    stdout: delimiters(stdout),
    output: delimiters(readFileSync(output, 'utf8')),
    summary: readFileSync(summary, 'utf8'),
    exitCode,
  };
}

async function same(
  reference: () => void | Promise<void>,
  candidate: () => void | Promise<void>,
  withFiles = true,
) {
  const expected = await capture(reference, withFiles);
  const actual = await capture(candidate, withFiles);
  expect(actual).toEqual(expected);
  return actual;
}

describe('the runner protocol matches @actions/core byte for byte', () => {
  it('reads inputs the way the runner sets them (spaces to underscores, upper case, trimmed)', () => {
    process.env['INPUT_HEALTH-URL'] = '  http://x/health \n';
    process.env.INPUT_SOME_NAME = 'v';
    expect(ours.getInput('health-url')).toBe(core.getInput('health-url'));
    expect(ours.getInput('some name')).toBe(core.getInput('some name'));
    expect(ours.getInput('missing')).toBe(core.getInput('missing'));
  });

  it('masks, logs, warns, debugs and fails with the same command lines', async () => {
    for (const text of [awkward, '', 'plain']) {
      await same(
        () => core.setSecret(text),
        () => ours.setSecret(text),
      );
      await same(
        () => core.info(text),
        () => ours.info(text),
      );
      await same(
        () => core.warning(text),
        () => ours.warning(text),
      );
      await same(
        () => core.debug(text),
        () => ours.debug(text),
      );
      const failed = await same(
        () => core.setFailed(text),
        () => ours.setFailed(text),
      );
      expect(failed.exitCode).toBe(1);
      expect(failed.stdout.startsWith('::error::')).toBe(true);
    }
  });

  it('groups, closing the group when the body throws', async () => {
    await same(
      () => core.group(awkward, async () => core.info('inside')),
      () => ours.group(awkward, async () => ours.info('inside')),
    );
    await same(
      () => core.group('g', () => Promise.reject(new Error('x'))).catch(() => undefined),
      () => ours.group('g', () => Promise.reject(new Error('x'))).catch(() => undefined),
    );
  });

  it('writes outputs to $GITHUB_OUTPUT as heredocs, and as ::set-output without the file', async () => {
    const written = await same(
      () => {
        core.setOutput('report', awkward);
        core.setOutput('empty', '');
      },
      () => {
        ours.setOutput('report', awkward);
        ours.setOutput('empty', '');
      },
    );
    expect(written.output).toContain('report<<ghadelimiter_X\n');
    await same(
      () => core.setOutput('a:b,c', awkward),
      () => ours.setOutput('a:b,c', awkward),
      false,
    );
  });

  it('appends the job summary as core.summary.addRaw(text, true).write() does', async () => {
    const written = await same(
      () =>
        core.summary
          .addRaw(awkward, true)
          .write()
          .then(() => undefined),
      () => ours.appendSummary(awkward),
    );
    expect(written.summary).toBe(`${awkward}\n`);
  });
});
