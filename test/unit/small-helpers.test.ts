import { describe, expect, it } from '@jest/globals';
import { backoffDelay } from '../../shared/src/retry/backoff.js';
import { Redactor } from '../../shared/src/redact/redactor.js';
import { markdownTable, truncate } from '../../shared/src/report/markdown.js';
import { ConfigurationError, OperationError } from '../../shared/src/errors.js';
import { failureMessage } from '../../shared/src/action/run.js';

describe('backoffDelay', () => {
  const policy = { initialMs: 1000, factor: 2, maxMs: 5000, jitter: 0.2 };
  it('doubles after each failure up to the cap', () => {
    const mid = () => 0.5; // jitter centred: no change
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(policy, n, mid))).toEqual([1000, 2000, 4000, 5000, 5000]);
  });
  it('spreads each delay by the jitter share', () => {
    expect(backoffDelay(policy, 2, () => 0)).toBe(1600);
    expect(backoffDelay(policy, 2, () => 1)).toBe(2400);
  });
});

describe('Redactor', () => {
  it('masks a secret and its URL-encoded and base64 forms, longest first', () => {
    const redactor = new Redactor();
    redactor.add('p@ss word/1');
    redactor.add('p@ss');
    const text = `url=postgres://u:${encodeURIComponent('p@ss word/1')}@h b64=${Buffer.from('p@ss word/1').toString('base64')} raw=p@ss word/1`;
    expect(redactor.redact(text)).toBe('url=postgres://u:***@h b64=*** raw=***');
  });
  it('masks each line of a multi-line secret and ignores blanks', () => {
    const redactor = new Redactor();
    redactor.add('   ');
    expect(redactor.size).toBe(0);
    redactor.add('-----BEGIN KEY-----\nAAAABBBBCCCC\n-----END KEY-----');
    expect(redactor.redact('line: AAAABBBBCCCC')).toBe('line: ***');
  });
});

describe('markdown', () => {
  it('escapes pipes and newlines in cells', () => {
    expect(markdownTable(['a', 'b'], [['x|y', 'line1\nline2']])).toBe(
      '| a | b |\n| --- | --- |\n| x\\|y | line1 line2 |',
    );
  });
  it('says how much it cut', () => expect(truncate('abcdef', 4)).toBe('abcd… (2 more characters)'));
});

describe('failure messages', () => {
  it('tell a wrong input from an operation failure from a bug', () => {
    expect(failureMessage(new ConfigurationError('timeout', 'bad.'))).toMatch(
      /^Input 'timeout': bad\. Nothing was changed on any target\./,
    );
    expect(failureMessage(new OperationError('The app is down.', 'roll back.'))).toBe(
      'The app is down. What to do: roll back.',
    );
    expect(failureMessage(new TypeError('x is undefined'))).toMatch(
      /^Unexpected error \(a bug in runbook-actions/,
    );
  });
});
