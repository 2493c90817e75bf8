/**
 * A `.env` file edited as text, not re-serialised: reading a key, setting one, removing one, while
 * every other byte — comments, blank lines, order, quoting style, `export ` prefixes, spacing around
 * `=`, inline comments, CRLF line ends, a missing final newline — stays exactly as it was. Rotation
 * (issue 9) and the incident operations' `set-env` use it; values are secrets, so nothing here logs.
 *
 * Syntax read as dotenv reads it: `[export ]KEY=value`, value unquoted (an inline comment starts at
 * ` #`), 'single' (literal) or "double" (\n, \r, \t, \" and \\ escapes); the last definition wins.
 */
import { ConfigurationError } from '../errors.js';

interface Line {
  /** The line without its end. */
  text: string;
  /** '\n', '\r\n' or '' (the last line of a file without a final newline). */
  eol: string;
}

interface Assignment {
  key: string;
  /** Everything before the value: `export KEY = `. */
  head: string;
  /** The value as written, quotes included. */
  rawValue: string;
  /** What follows the value: spaces and an inline comment. */
  tail: string;
  quote: '' | "'" | '"';
}

const ASSIGNMENT = /^(\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*)(.*)$/;
export const KEY_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    if (nl === -1) {
      lines.push({ text: text.slice(start), eol: '' });
      break;
    }
    const crlf = nl > start && text[nl - 1] === '\r';
    lines.push({ text: text.slice(start, crlf ? nl - 1 : nl), eol: crlf ? '\r\n' : '\n' });
    start = nl + 1;
  }
  return lines;
}

function parseAssignment(text: string): Assignment | undefined {
  const match = ASSIGNMENT.exec(text);
  if (!match) return undefined;
  const head = match[1] as string;
  const key = match[2] as string;
  const rest = match[3] as string;
  const quote = rest[0] === '"' || rest[0] === "'" ? (rest[0] as '"' | "'") : '';
  if (quote) {
    // The closing quote: the last one on the line that is followed only by spaces and a comment.
    for (let i = rest.length - 1; i > 0; i--) {
      if (
        rest[i] === quote &&
        /^\s*(#.*)?$/.test(rest.slice(i + 1)) &&
        (quote === "'" || !escaped(rest, i))
      ) {
        return { key, head, rawValue: rest.slice(0, i + 1), tail: rest.slice(i + 1), quote };
      }
    }
  }
  const comment = /\s+#/.exec(rest);
  const value = comment ? rest.slice(0, comment.index) : rest;
  const trimmed = value.replace(/\s+$/, '');
  return { key, head, rawValue: trimmed, tail: rest.slice(trimmed.length), quote: '' };
}

function escaped(text: string, i: number): boolean {
  let n = 0;
  for (let j = i - 1; j >= 0 && text[j] === '\\'; j--) n++;
  return n % 2 === 1;
}

function decode(a: Assignment): string {
  if (a.quote === "'") return a.rawValue.slice(1, -1);
  if (a.quote === '"')
    return a.rawValue
      .slice(1, -1)
      .replace(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? c);
  return a.rawValue;
}

/** The value written in the style the line had; a style that cannot hold it becomes double quotes. */
function encode(value: string, quote: Assignment['quote']): string {
  if (quote === "'" && !/['\n\r]/.test(value)) return `'${value}'`;
  if (quote === '' && /^[^\s'"#\\]*$/.test(value)) return value;
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`;
}

export function checkKeyName(input: string, key: string): void {
  if (!KEY_NAME.test(key))
    throw new ConfigurationError(
      input,
      `${JSON.stringify(key)} is not an environment variable name; use letters, digits and _, not starting with a digit.`,
    );
}

export class EnvFile {
  private constructor(private readonly lines: Line[]) {}

  static parse(text: string): EnvFile {
    return new EnvFile(splitLines(text));
  }

  toString(): string {
    return this.lines.map((l) => l.text + l.eol).join('');
  }

  private assignments(key: string): { index: number; a: Assignment }[] {
    const found: { index: number; a: Assignment }[] = [];
    this.lines.forEach((line, index) => {
      const a = parseAssignment(line.text);
      if (a && a.key === key) found.push({ index, a });
    });
    return found;
  }

  /** The value the app sees (the last definition), or undefined. */
  get(key: string): string | undefined {
    const last = this.assignments(key).at(-1);
    return last ? decode(last.a) : undefined;
  }

  keys(): string[] {
    return [
      ...new Set(
        this.lines.map((l) => parseAssignment(l.text)?.key).filter((k): k is string => k !== undefined),
      ),
    ];
  }

  /**
   * Sets a key: every definition of it gets the new value in its own style (so no stale duplicate can
   * win); a missing key is added at the end, with the file's line ending.
   */
  set(key: string, value: string): this {
    const found = this.assignments(key);
    for (const { index, a } of found) {
      const line = this.lines[index] as Line;
      line.text = `${a.head}${encode(value, a.quote)}${a.tail}`;
    }
    if (found.length === 0) {
      const eol = this.lines.find((l) => l.eol !== '')?.eol ?? '\n';
      const last = this.lines.at(-1);
      if (last && last.eol === '' && last.text !== '') {
        // No final newline: keep it that way, the new line goes after a line break.
        last.eol = eol;
        this.lines.push({ text: `${key}=${encode(value, '')}`, eol: '' });
      } else {
        if (last && last.eol === '' && last.text === '') this.lines.pop();
        this.lines.push({ text: `${key}=${encode(value, '')}`, eol });
      }
    }
    return this;
  }

  /** Removes every definition of a key (the grace window's `<NAME>_PREVIOUS` when retired). */
  remove(key: string): this {
    const drop = new Set(this.assignments(key).map((f) => f.index));
    const kept = this.lines.filter((_, i) => !drop.has(i));
    // Removing the last line of a file without a final newline must not leave one behind.
    if (kept.length && this.lines.at(-1)?.eol === '' && drop.has(this.lines.length - 1))
      (kept.at(-1) as Line).eol = '';
    this.lines.splice(0, this.lines.length, ...kept);
    return this;
  }
}
