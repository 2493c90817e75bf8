import { describe, expect, it } from '@jest/globals';
import dotenv from 'dotenv';
import { EnvFile, checkKeyName } from '../../shared/src/envfile/envfile.js';
import { ConfigurationError } from '../../shared/src/errors.js';

const SAMPLE = [
  '# Bunty backend',
  '',
  'NODE_ENV=production',
  'export JWT_SECRET="old\\"secret\\\\x"  # rotated monthly',
  "PLAID_SECRET='pl=ai#d'",
  'EMPTY=',
  'URL=postgres://u:p@h/db?x=1#frag',
  '  SPACED = value with spaces # comment',
  'HASHY=a#b',
].join('\n');

describe('EnvFile', () => {
  it('reads values as dotenv does: quotes, escapes, inline comments, = and # inside values', () => {
    const env = EnvFile.parse(`${SAMPLE}\n`);
    // dotenv 17: in double quotes only \n and \r are escapes; an unquoted # starts a comment.
    expect(env.get('JWT_SECRET')).toBe('old\\"secret\\\\x');
    expect(env.get('PLAID_SECRET')).toBe('pl=ai#d');
    expect(env.get('EMPTY')).toBe('');
    expect(env.get('URL')).toBe('postgres://u:p@h/db?x=1');
    expect(env.get('SPACED')).toBe('value with spaces');
    expect(env.get('HASHY')).toBe('a');
    for (const [key, value] of Object.entries(dotenv.parse(`${SAMPLE}\n`))) expect(env.get(key)).toBe(value);
    expect(env.get('MISSING')).toBeUndefined();
    expect(env.keys()).toEqual(['NODE_ENV', 'JWT_SECRET', 'PLAID_SECRET', 'EMPTY', 'URL', 'SPACED', 'HASHY']);
  });

  it('changes only the value, in the style the line had, and keeps every other byte', () => {
    const text = `${SAMPLE}\n`;
    const out = EnvFile.parse(text)
      .set('JWT_SECRET', 'n3w+/=')
      .set('PLAID_SECRET', 'x')
      .set('EMPTY', 'now')
      .toString();
    expect(out).toBe(
      text
        .replace(
          'export JWT_SECRET="old\\"secret\\\\x"  # rotated monthly',
          'export JWT_SECRET="n3w+/="  # rotated monthly',
        )
        .replace("PLAID_SECRET='pl=ai#d'", "PLAID_SECRET='x'")
        .replace('EMPTY=\n', 'EMPTY=now\n'),
    );
  });

  it('keeps CRLF line ends and adds a missing key at the end with them', () => {
    const text = 'A=1\r\n# c\r\nB="2"\r\n';
    expect(EnvFile.parse(text).set('B', 'two words').set('C', '3').toString()).toBe(
      'A=1\r\n# c\r\nB="two words"\r\nC=3\r\n',
    );
  });

  it('keeps a file without a final newline that way', () => {
    expect(EnvFile.parse('A=1\nB=2').set('C', 'x y').toString()).toBe('A=1\nB=2\nC="x y"');
    expect(EnvFile.parse('A=1\nB=2').set('B', '3').toString()).toBe('A=1\nB=3');
    expect(EnvFile.parse('A=1\nB=2').remove('B').toString()).toBe('A=1');
    expect(EnvFile.parse('').set('A', '1').toString()).toBe('A=1\n');
  });

  it('sets every definition of a duplicated key and removes them all', () => {
    const text = 'K=a\nX=1\nK=b\n';
    expect(EnvFile.parse(text).get('K')).toBe('b');
    expect(EnvFile.parse(text).set('K', 'c').toString()).toBe('K=c\nX=1\nK=c\n');
    expect(EnvFile.parse(text).remove('K').toString()).toBe('X=1\n');
  });

  it('quotes what an unquoted or single-quoted value cannot hold, so it reads back the same', () => {
    for (const value of ['has space', "it's", 'a"b', 'back\\slash', 'multi\nline', ' lead', '#start', '']) {
      for (const style of ['K=x\n', "K='x'\n", 'K="x"\n']) {
        expect(EnvFile.parse(EnvFile.parse(style).set('K', value).toString()).get('K')).toBe(value);
      }
    }
  });

  it('refuses a variable name that is not one', () => {
    expect(() => checkKeyName('name', 'A; rm -rf /')).toThrow(ConfigurationError);
    expect(() => checkKeyName('name', 'JWT_SECRET')).not.toThrow();
  });

  it('knows where a multi-line quoted value ends: a line inside a PEM key is not a definition', () => {
    const pem =
      '-----BEGIN PRIVATE KEY-----\nJWT_SECRET=inside-the-key\nMIIBVwIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----';
    const text = `PRIVATE_KEY="${pem}"\n# the signing key\nJWT_SECRET=real-one\n`;
    const env = EnvFile.parse(text);
    expect(env.get('JWT_SECRET')).toBe('real-one');
    const out = env.set('JWT_SECRET', 'new-one').set('JWT_SECRET_PREVIOUS', 'real-one').toString();
    expect(dotenv.parse(out)).toEqual({
      PRIVATE_KEY: pem,
      JWT_SECRET: 'new-one',
      JWT_SECRET_PREVIOUS: 'real-one',
    });
    expect(out.startsWith(`PRIVATE_KEY="${pem}"\n# the signing key\nJWT_SECRET=new-one\n`)).toBe(true);
    expect(EnvFile.parse(out).remove('JWT_SECRET_PREVIOUS').toString()).toBe(
      text.replace('real-one', 'new-one'),
    );
  });

  it('writes a multi-line value so that dotenv reads it back exactly', () => {
    const value = 'line one\nline "two"\n';
    const out = EnvFile.parse('A=1\n').set('KEY', value).toString();
    expect(dotenv.parse(out)).toEqual({ A: '1', KEY: value });
  });
});
