/**
 * The leak guard: where would a secret be seen unmasked? `::add-mask::` lines are the masking
 * commands themselves (the runner consumes them and never shows them), so they are skipped;
 * every other line of stdout and stderr, the outputs and the summary are searched.
 */
export function findLeaks(secrets: string[], places: Record<string, string>): string[] {
  const leaks: string[] = [];
  for (const [place, text] of Object.entries(places)) {
    const visible = text
      .split(/\r?\n/)
      .filter((line) => !line.startsWith('::add-mask::'))
      .join('\n');
    secrets.forEach((secret, index) => {
      // A multi-line secret (a private key) leaks just as well one line at a time.
      const pieces = [
        secret,
        ...secret
          .split(/\r?\n/)
          .map((line) => line.trim())
          .filter((line) => line.length >= 8),
      ];
      // The message names the secret by position only: printing it would be the leak.
      if (pieces.some((piece) => piece.trim() !== '' && visible.includes(piece)))
        leaks.push(`${place} (secret #${index + 1})`);
    });
  }
  return leaks;
}
