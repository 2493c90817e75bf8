/**
 * SQL read by PostgreSQL's own grammar. libpg-query is the server's parser (PostgreSQL 18) compiled to
 * WebAssembly: statement boundaries, comments, quotes, dollar quotes and `BEGIN ATOMIC` bodies are what
 * the server itself will see — no hand-written scanner to fool with a comment, and linear in the text.
 * Its `.wasm` ships beside every bundle that loads it (scripts/build.ts copies it; the dirname shim
 * tells the loader where the bundle is).
 */
import type { Node, RawStmt } from 'libpg-query';

export interface ParsedStatement {
  /** The statement's text as written, from its first token, without the closing semicolon. */
  sql: string;
  /** 1-based line of its first token. */
  line: number;
  /** The parse node's type: `CreateStmt`, `TransactionStmt`, … */
  kind: string;
  /** The parse node itself (libpg-query's JSON form of PostgreSQL's parse tree). */
  node: Record<string, unknown>;
}

/** The text is not SQL PostgreSQL's grammar accepts; `line` is where the parser stopped. */
export class SqlSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'SqlSyntaxError';
  }
}

type Parser = typeof import('libpg-query');
let parser: Promise<Parser> | undefined;

/** Loads the parser once per process; a bundle without its .wasm says so instead of crashing. */
function loadParser(): Promise<Parser> {
  parser ??= import('libpg-query').then(async (module) => {
    await module.loadModule();
    return module;
  });
  return parser.catch((error: unknown) => {
    parser = undefined;
    throw new Error(
      `PostgreSQL's SQL parser (libpg-query.wasm, shipped beside the bundle) could not load: ${error instanceof Error ? error.message : String(error)}`,
    );
  });
}

function kindOf(node: Node | undefined): [string, Record<string, unknown>] {
  const [kind, body] = Object.entries(node ?? {})[0] ?? ['Unknown', {}];
  return [kind, (body ?? {}) as Record<string, unknown>];
}

/**
 * Every statement of a text, in order, with its line. Empty statements (`;;`) and a text of comments
 * only give none. The parser's locations are UTF-8 byte offsets; texts are sliced as bytes.
 */
export async function parseStatements(text: string): Promise<ParsedStatement[]> {
  if (text.trim() === '') return [];
  const { parseSync, hasSqlDetails } = await loadParser();
  const bytes = Buffer.from(text, 'utf8');
  let stmts: RawStmt[];
  try {
    stmts = parseSync(text).stmts ?? [];
  } catch (error) {
    if (hasSqlDetails(error)) {
      // The error's position counts characters (the server's errposition), not bytes.
      const at = Math.max(0, error.sqlDetails?.cursorPosition ?? 0);
      throw new SqlSyntaxError(error.message, text.slice(0, at).split('\n').length);
    }
    throw error;
  }
  const out: ParsedStatement[] = [];
  // Lines are counted forward from the previous statement, so the whole text is walked once.
  const cursor = { from: 0, line: 1 };
  for (const raw of stmts) {
    // proto3's JSON leaves out zero values: no location is 0, no length is "to the end".
    const start = raw.stmt_location ?? 0;
    const end = raw.stmt_len ? start + raw.stmt_len : bytes.length;
    const line = lineOfByte(bytes, start, cursor);
    const [kind, node] = kindOf(raw.stmt);
    out.push({ sql: bytes.toString('utf8', start, end).trimEnd(), line, kind, node });
  }
  return out;
}

/** The line of a byte offset, counting newlines from `cursor` (which moves there). */
function lineOfByte(bytes: Buffer, offset: number, cursor: { from: number; line: number }): number {
  let at = cursor.from;
  let line = cursor.line;
  const stop = Math.min(offset, bytes.length);
  for (;;) {
    const newline = bytes.indexOf(0x0a, at);
    if (newline === -1 || newline >= stop) break;
    line++;
    at = newline + 1;
  }
  cursor.from = at;
  cursor.line = line;
  return line;
}

/** Tokens whose text is data, not shape: strings of every kind, numbers, bit strings. */
const LITERAL_TOKENS = new Set(['SCONST', 'USCONST', 'ICONST', 'FCONST', 'BCONST', 'XCONST']);
const COMMENT_TOKENS = new Set(['SQL_COMMENT', 'C_COMMENT']);

/**
 * A query's text as the server's own lexer reads it, with every literal `?` and every comment left
 * out, whitespace collapsed, cut to `maxChars`: safe to log. A text the lexer cannot finish — the
 * server truncates pg_stat_activity.query in the middle of a string — keeps the longest prefix it can
 * read and redacts the rest whole.
 */
export async function redactLiterals(text: string, maxChars = 80): Promise<string> {
  const { scanSync } = await loadParser();
  const bytes = Buffer.from(text, 'utf8');
  const scan = (length: number) => {
    try {
      return scanSync(bytes.toString('utf8', 0, length)).tokens;
    } catch {
      return undefined;
    }
  };
  let tokens = scan(bytes.length);
  let rest = '';
  if (!tokens) {
    // Binary search for a prefix that scans. Any such prefix's tokens are the whole text's tokens
    // (the lexer reads left to right); what follows it is redacted, so a wrong guess only hides more.
    let good = 0;
    let bad = bytes.length;
    while (bad - good > 1) {
      const mid = (good + bad) >> 1;
      if (scan(mid)) good = mid;
      else bad = mid;
    }
    tokens = scan(good) ?? [];
    rest = ' ?';
  }
  const parts: string[] = [];
  let lastEnd = 0;
  let spaced = false;
  for (const token of tokens) {
    spaced ||= /\s/.test(bytes.toString('utf8', lastEnd, token.start));
    lastEnd = token.end;
    // A comment reads as a space: `a/* x */b` stays two words.
    if (COMMENT_TOKENS.has(token.tokenName)) {
      spaced = true;
      continue;
    }
    const piece = LITERAL_TOKENS.has(token.tokenName) ? '?' : bytes.toString('utf8', token.start, token.end);
    parts.push(`${spaced && parts.length > 0 ? ' ' : ''}${piece}`);
    spaced = false;
  }
  return (parts.join('') + rest).trim().slice(0, maxChars);
}
