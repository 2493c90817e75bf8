/** `20261130T020000Z`: a UTC time that sorts as time and is safe in every file system and name. */
export function stamp(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}
