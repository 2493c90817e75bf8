/**
 * A `.env` file edited as text, not re-serialised: reading a key, setting one, removing one, while
 * every other byte — comments, blank lines, order, quoting style, `export ` prefixes, spacing around
 * `=`, inline comments, CRLF line ends, a missing final newline — stays exactly as it was. Rotation
 * and the incident operations' `set-env` use it; values are secrets, so nothing here logs.
 *
 * What a value is, and where it ends, is what dotenv says — the app reads the file with dotenv: the
 * assignments are found with dotenv's own line pattern (a quoted value may span lines, a PEM key), a
 * value is read by `dotenv.parse`, a new value is written in the first style that dotenv reads back
 * as exactly that value, and every edit is checked before it is used: `dotenv.parse(after)` must equal
 * `dotenv.parse(before)` but for the keys meant to change. Otherwise the edit is refused.
 */
import dotenv from 'dotenv';
import { ConfigurationError, OperationError } from '../errors.js';

export const KEY_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

// dotenv 17's LINE (lib/main.js), with `d` for the positions of the key and the value.
const LINE =
  /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/dgm;

/** One definition: where its line starts, where its value is (as written, quotes and all). */
interface Definition {
  key: string;
  lineStart: number;
  valueStart: number;
  valueEnd: number;
  /** The quote the value was written with ('' for none). */
  quote: '' | "'" | '"' | '`';
}

export function checkKeyName(input: string, key: string): void {
  if (!KEY_NAME.test(key))
    throw new ConfigurationError(
      input,
      `${JSON.stringify(key)} is not an environment variable name; use letters, digits and _, not starting with a digit.`,
    );
}

/**
 * Variables that change how node, the loader, the shell or pm2 itself run: a rotated `LD_PRELOAD` or
 * a `NODE_OPTIONS=--require …` would run inside the very `pm2 restart` that applies it, and in the app.
 */
export const PROCESS_VARIABLES =
  /^(NODE_OPTIONS|NODE_PATH|NODE_REPL_EXTERNAL_MODULE|NODE_APP_INSTANCE|LD_\w*|DYLD_\w*|PATH|HOME|SHELL|USER|LOGNAME|IFS|ENV|BASH_ENV|PS4|PM2_\w*)$/;

/** A variable that changes how node, the loader, the shell or pm2 run: never given to the pm2 command. */
export function changesHowProgramsRun(name: string): boolean {
  return PROCESS_VARIABLES.test(name);
}

/**
 * A variable a rotation or set-env may write into the app's environment: a name (checkKeyName), not
 * one that changes how node, the loader, the shell or pm2 run, and upper case unless allowed (pm2 and
 * the shell read lowercase names of their own: `name`, `pm_id`, `cwd`).
 */
export function checkAppVariable(input: string, key: string, allowLowercase: boolean): void {
  checkKeyName(input, key);
  if (changesHowProgramsRun(key))
    throw new ConfigurationError(
      input,
      `${key} changes how node, the loader, the shell or pm2 itself run (it would take effect in the pm2 command this action runs, too); it is refused. Change it in the app's start-up by hand.`,
    );
  if (!allowLowercase && /[a-z]/.test(key))
    throw new ConfigurationError(
      input,
      `${JSON.stringify(key)} has lower-case letters (pm2 and the shell use such names for themselves); set allow-lowercase-name: true if the app really reads it.`,
    );
}

/** What dotenv reads from a text (it never throws: a line it cannot read is no assignment). */
function read(text: string): Record<string, string> {
  return dotenv.parse(text);
}

/**
 * The definitions in `text`, found as dotenv finds them. dotenv matches on the text with every line
 * end made `\n`; positions are mapped back to the text as it is.
 */
function definitions(text: string): Definition[] {
  const original: number[] = [];
  let normalized = '';
  for (let i = 0; i < text.length; i++) {
    original.push(i);
    if (text[i] === '\r') {
      normalized += '\n';
      if (text[i + 1] === '\n') i++;
    } else normalized += text[i];
  }
  original.push(text.length);
  const out: Definition[] = [];
  for (const m of normalized.matchAll(LINE)) {
    const key = m[1] as string;
    const keyAt = (m.indices?.[1] as [number, number])[0];
    const lineStart = normalized.lastIndexOf('\n', keyAt - 1) + 1;
    const raw = m[2] ?? '';
    const span = m.indices?.[2];
    // The value as dotenv trims it: its first and last non-space character.
    const lead = raw.length - raw.trimStart().length;
    // No value (`KEY=`): it goes right after the separator, as dotenv matches it (`\s*=` or `: `).
    const keyEnd = (m.indices?.[1] as [number, number])[1];
    const separator = /^\s*=|^:\s/.exec(normalized.slice(keyEnd))?.[0].length ?? 0;
    const valueStart = span ? span[0] + lead : keyEnd + separator;
    const valueEnd = span ? span[0] + raw.trimEnd().length : valueStart;
    const first = normalized[valueStart];
    const quote = first === "'" || first === '"' || first === '`' ? first : '';
    out.push({
      key,
      lineStart: original[lineStart] as number,
      valueStart: original[valueStart] as number,
      valueEnd: original[valueEnd] as number,
      quote: valueEnd > valueStart ? quote : '',
    });
  }
  return out;
}

/** The value written so that dotenv reads back exactly `value`: the line's own style first. */
function encode(key: string, value: string, preferred: Definition['quote']): string {
  const styles: Record<Definition['quote'], () => string | undefined> = {
    // Unquoted only when plain: other readers of the file (a shell's `source`, docker) agree then.
    '': () => (/^[^\s'"`#\\$]*$/.test(value) ? value : undefined),
    "'": () => `'${value}'`,
    '"': () => `"${value.replace(/\r/g, '\\r').replace(/\n/g, '\\n')}"`,
    '`': () => `\`${value}\``,
  };
  const order: Definition['quote'][] = [preferred, '', '"', "'", '`'];
  for (const style of order) {
    const written = styles[style]();
    if (written !== undefined && read(`${key}=${written}\n`)[key] === value) return written;
  }
  throw new OperationError(
    `the value for ${key} cannot be written so that dotenv reads it back unchanged (it holds ', " and \` together with # or line breaks); nothing was written.`,
    `give ${key} a value without one of those characters (generated values never hold them).`,
  );
}

export class EnvFile {
  /** Keys this edit means to change: the new value, or undefined for removed. */
  private readonly changes = new Map<string, string | undefined>();

  private constructor(
    private text: string,
    private readonly before: string,
  ) {}

  static parse(text: string): EnvFile {
    return new EnvFile(text, text);
  }

  /**
   * The edited text, checked: dotenv must read it as it read the file before, but for the keys this
   * edit changed. Throws — nothing to write — when it would read anything else differently.
   */
  toString(): string {
    const expected = new Map(Object.entries(read(this.before)));
    for (const [key, value] of this.changes) {
      if (value === undefined) expected.delete(key);
      else expected.set(key, value);
    }
    const after = new Map(Object.entries(read(this.text)));
    const keys = new Set([...expected.keys(), ...after.keys()]);
    const differ = [...keys].filter((k) => expected.get(k) !== after.get(k));
    if (differ.length > 0)
      throw new OperationError(
        `the edit of the env file would change how dotenv reads ${differ.join(', ')} (a value that spans lines, or a line only dotenv reads that way); nothing was written.`,
        `edit the file by hand for ${[...this.changes.keys()].join(', ')} (one definition a key, values quoted), then run again.`,
      );
    return this.text;
  }

  /** The value the app sees (dotenv: the last definition), or undefined. */
  get(key: string): string | undefined {
    return read(this.text)[key];
  }

  keys(): string[] {
    return Object.keys(read(this.text));
  }

  /**
   * Sets a key: every definition of it gets the new value, in its own style where dotenv reads that
   * back unchanged (so no stale duplicate can win); a missing key is added at the end, with the
   * file's line ending.
   */
  set(key: string, value: string): this {
    const found = definitions(this.text).filter((d) => d.key === key);
    for (const d of [...found].reverse()) {
      this.text =
        this.text.slice(0, d.valueStart) + encode(key, value, d.quote) + this.text.slice(d.valueEnd);
    }
    if (found.length === 0) {
      const eol = /\r\n/.test(this.text) ? '\r\n' : '\n';
      const line = `${key}=${encode(key, value, '')}`;
      if (this.text === '') this.text = `${line}${eol}`;
      else if (/\r?\n$/.test(this.text)) this.text += `${line}${eol}`;
      // No final newline: keep it that way, the new line goes after a line break.
      else this.text += `${eol}${line}`;
    }
    this.changes.set(key, value);
    return this;
  }

  /** Removes every definition of a key (the grace window's `<NAME>_PREVIOUS` when retired), its whole lines. */
  remove(key: string): this {
    const found = definitions(this.text).filter((d) => d.key === key);
    for (const d of [...found].reverse()) {
      const nl = this.text.indexOf('\n', d.valueEnd);
      let end = nl === -1 ? this.text.length : nl + 1;
      let start = d.lineStart;
      // Removing the last line of a file without a final newline must not leave one behind.
      if (nl === -1 && start > 0) {
        start = this.text[start - 2] === '\r' ? start - 2 : start - 1;
        end = this.text.length;
      }
      this.text = this.text.slice(0, start) + this.text.slice(end);
    }
    this.changes.set(key, undefined);
    return this;
  }
}
