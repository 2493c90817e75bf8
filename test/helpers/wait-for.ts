/** Polls `check` until it holds; throws naming `what` when `ms` runs out. */
export async function waitFor(what: string, check: () => boolean, ms = 20_000, everyMs = 5): Promise<void> {
  for (const until = Date.now() + ms; Date.now() < until;) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}
