/**
 * Splits SQL into statements for the files that must run outside a transaction (`CREATE INDEX
 * CONCURRENTLY`, `ALTER TYPE … ADD VALUE` on old servers): each is sent on its own, so one failing
 * names its line. Semicolons inside quotes, quoted identifiers, dollar-quoted bodies and comments do
 * not split.
 */
export interface Statement {
  sql: string;
  /** 1-based line where it starts. */
  line: number;
}

export function splitStatements(text: string): Statement[] {
  const out: Statement[] = [];
  let start = 0;
  let i = 0;
  const push = (end: number) => {
    const sql = text.slice(start, end).trim();
    if (sql !== '' && !/^(--[^\n]*\n?|\s|\/\*[\s\S]*?\*\/)*$/.test(sql)) {
      const leading = text.slice(start, end).search(/\S/);
      out.push({ sql, line: text.slice(0, start + Math.max(0, leading)).split('\n').length });
    }
    start = end + 1;
  };
  while (i < text.length) {
    const c = text[i] as string;
    const next = text[i + 1];
    if (c === '-' && next === '-') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end + 1;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < text.length && depth > 0) {
        if (text.startsWith('/*', i)) {
          depth++;
          i += 2;
        } else if (text.startsWith('*/', i)) {
          depth--;
          i += 2;
        } else i++;
      }
    } else if (c === "'" || c === '"') {
      i++;
      while (i < text.length) {
        if (text[i] === c && text[i + 1] === c) i += 2;
        else if (text[i] === c) break;
        else i++;
      }
      i++;
    } else if (c === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i, i + 64));
      if (tag) {
        const end = text.indexOf(tag[0], i + tag[0].length);
        i = end === -1 ? text.length : end + tag[0].length;
      } else i++;
    } else if (c === ';') {
      push(i);
      i++;
    } else i++;
  }
  push(text.length);
  return out;
}
