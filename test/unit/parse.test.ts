import { describe, expect, it } from '@jest/globals';
import { ConfigurationError } from '../../shared/src/errors.js';
import {
  parseBoolean,
  parseDuration,
  parseHttpUrl,
  parseInteger,
  parseList,
  parseChoice,
} from '../../shared/src/config/parse.js';

function refusal(fn: () => unknown): ConfigurationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigurationError) return error;
    throw error;
  }
  throw new Error('expected a ConfigurationError');
}

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    ['10', 10_000],
  ])('%s is %d ms', (raw, ms) => expect(parseDuration('timeout', raw)).toBe(ms));

  it.each(['abc', '10x', '5 s', '-1s', 's', '1s junk'])('refuses %j and names the input', (raw) => {
    const error = refusal(() => parseDuration('timeout', raw));
    expect(error.input).toBe('timeout');
    expect(error.message).toMatch(/^Input 'timeout': .*expected a duration such as 500ms, 30s, 2m or 1h/);
  });

  it('enforces its range', () => {
    expect(refusal(() => parseDuration('deadline', '0s', { min: 1 })).message).toMatch(/too short/);
    expect(refusal(() => parseDuration('deadline', '2h', { max: 3_600_000 })).message).toMatch(
      /too long; the most is 1h/,
    );
  });
});

describe('parseInteger', () => {
  it('reads whole numbers in range', () =>
    expect(parseInteger('max-attempts', ' 7 ', { min: 1, max: 10 })).toBe(7));
  it.each([
    ['0', /out of range; expected a whole number from 1 to 1000/],
    ['1.5', /not a whole number/],
    ['ten', /not a whole number/],
    ['', /not a whole number/],
  ])('refuses %j', (raw, message) => {
    const error = refusal(() => parseInteger('max-attempts', raw, { min: 1, max: 1000 }));
    expect(error.input).toBe('max-attempts');
    expect(error.message).toMatch(message);
  });
});

describe('other parsers', () => {
  it('reads booleans the way workflow authors write them', () => {
    expect(parseBoolean('x', 'true')).toBe(true);
    expect(parseBoolean('x', 'No')).toBe(false);
    expect(refusal(() => parseBoolean('follow-redirects', 'maybe')).message).toMatch(
      /follow-redirects.*true or false/,
    );
  });

  it('splits lists on newlines and commas', () => {
    expect(parseList('a, b\n\n c ,')).toEqual(['a', 'b', 'c']);
  });

  it('accepts only http(s) URLs without credentials', () => {
    expect(parseHttpUrl('url', 'https://api.example.com/health').host).toBe('api.example.com');
    expect(refusal(() => parseHttpUrl('url', 'not a url')).message).toMatch(
      /^Input 'url': "not a url" is not a URL/,
    );
    expect(refusal(() => parseHttpUrl('url', 'ftp://x/')).message).toMatch(/only http/);
    expect(refusal(() => parseHttpUrl('url', 'https://u:p@x/')).message).toMatch(/credentials/);
  });

  it('reads choices', () => {
    expect(parseChoice('tls-expiry', 'FAIL', ['fail', 'warn'] as const)).toBe('fail');
    expect(refusal(() => parseChoice('tls-expiry', 'explode', ['fail', 'warn'])).message).toMatch(
      /one of: fail, warn/,
    );
  });
});
