/**
 * Replaces every registered secret in a text with `***`, including the forms a secret takes when
 * it is embedded elsewhere (URL-encoded in a connection string, base64 in a Basic auth header),
 * which the runner's own masking does not catch.
 */
export const MASK = '***';

export class Redactor {
  private readonly secrets = new Set<string>();

  add(secret: string): string[] {
    const added: string[] = [];
    for (const form of secretForms(secret)) {
      if (!this.secrets.has(form)) {
        this.secrets.add(form);
        added.push(form);
      }
    }
    return added;
  }

  redact(text: string): string {
    let out = text;
    // Longest first, so a secret that contains another is masked whole.
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length)) {
      out = out.split(secret).join(MASK);
    }
    return out;
  }

  get size(): number {
    return this.secrets.size;
  }
}

/** The value itself and the encodings it is commonly found in. Blank values mask nothing. */
export function secretForms(secret: string): string[] {
  const value = secret.trim() === '' ? '' : secret;
  if (value === '') return [];
  const forms = new Set<string>([value]);
  forms.add(encodeURIComponent(value));
  if (value.length >= 6) forms.add(Buffer.from(value, 'utf8').toString('base64'));
  // A multi-line secret (a private key) is masked line by line too, as the runner prints lines.
  for (const line of value.split(/\r?\n/)) if (line.trim().length >= 4) forms.add(line.trim());
  return [...forms];
}
