/** What a migration file is called, on its own so that the release code can check names without the SQL parser. */

/** `NNN_name.sql` or `NNN_name_rollback.sql`. */
export const MIGRATION = /^(\d+)_([A-Za-z0-9][A-Za-z0-9_.-]*?)(_rollback)?\.sql$/;

/** A migration file's name, as the release log records it (`003_add_plan.sql`). */
export const MIGRATION_FILE = /^\d+_[A-Za-z0-9][A-Za-z0-9_.-]*\.sql$/;

/** The version of a file name (`003_add_plan.sql` → `003`). */
export function versionOf(file: string): string {
  return /^(\d+)_/.exec(file)?.[1] ?? '';
}

/** How big a file PostgreSQL's parser is given (it takes ~0.12 s and ~35 MB of memory per MB). */
export const DEFAULT_MAX_FILE_BYTES = 32 * 1024 * 1024;
