/** Markdown pieces for job summaries and reports. Cells are escaped so a body cannot break the table. */
export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [line(header), `| ${header.map(() => '---').join(' | ')} |`, ...rows.map(line)].join('\n');
}

function escapeCell(value: string | null | undefined): string {
  // A database can hand back NULL where a string was expected: an empty cell, not a crash.
  const text = value ?? '';
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Cuts a text to at most `max` characters, saying how much was cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** GitHub caps a step summary at 1 MiB; keep well under it. */
export const SUMMARY_LIMIT = 900 * 1024;
