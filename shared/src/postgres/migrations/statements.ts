/**
 * A migration file as PostgreSQL's parser reads it: its statements (each sent on its own, so a
 * failure names its line) and what makes it unable to run the way it is declared — checked before
 * anything is applied. A transactional file may not end or start a transaction (the runner's own
 * transaction is what makes it all or nothing), nor hold a statement the server refuses inside one;
 * no file may read COPY data from the client, which a driver cannot supply.
 */
import { parseStatements, SqlSyntaxError, type ParsedStatement } from '../sql-parser.js';

export interface Statement {
  sql: string;
  /** 1-based line where it starts. */
  line: number;
  /**
   * `CREATE INDEX CONCURRENTLY`: the index it makes (`schema.name` or `name`). One interrupted
   * leaves an INVALID index of that name behind, which the runner drops before running it again.
   */
  concurrentIndex?: { schema?: string; name: string };
}

function concurrentIndexOf(statement: ParsedStatement): Statement['concurrentIndex'] {
  const { kind, node } = statement;
  if (kind !== 'IndexStmt' || !node.concurrent || typeof node.idxname !== 'string') return undefined;
  const schema = (node.relation as { schemaname?: unknown } | undefined)?.schemaname;
  return { ...(typeof schema === 'string' ? { schema } : {}), name: node.idxname };
}

export type ParsedFile = { statements: Statement[]; problem?: undefined } | { problem: string };

/** Transaction statements that end the runner's transaction or start another; savepoints stay inside it. */
const ENDS_OR_STARTS: Record<string, string> = {
  TRANS_STMT_BEGIN: 'BEGIN',
  TRANS_STMT_START: 'START TRANSACTION',
  TRANS_STMT_COMMIT: 'COMMIT',
  TRANS_STMT_ROLLBACK: 'ROLLBACK',
  TRANS_STMT_PREPARE: 'PREPARE TRANSACTION',
  TRANS_STMT_COMMIT_PREPARED: 'COMMIT PREPARED',
  TRANS_STMT_ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
};

/** What the server refuses inside a transaction block ("cannot run inside a transaction block"). */
function outsideOnly(statement: ParsedStatement): string | undefined {
  const { kind, node } = statement;
  if (kind === 'IndexStmt' && node.concurrent) return 'CREATE INDEX CONCURRENTLY';
  if (kind === 'DropStmt' && node.concurrent) return 'DROP INDEX CONCURRENTLY';
  if (kind === 'ReindexStmt' && JSON.stringify(node.params ?? []).includes('"concurrently"'))
    return 'REINDEX CONCURRENTLY';
  if (kind === 'VacuumStmt') return node.is_vacuumcmd ? 'VACUUM' : undefined;
  const named: Record<string, string> = {
    CreatedbStmt: 'CREATE DATABASE',
    DropdbStmt: 'DROP DATABASE',
    AlterSystemStmt: 'ALTER SYSTEM',
    CreateTableSpaceStmt: 'CREATE TABLESPACE',
    DropTableSpaceStmt: 'DROP TABLESPACE',
    CreateSubscriptionStmt: 'CREATE SUBSCRIPTION',
  };
  return named[kind];
}

function copyFromClient(statement: ParsedStatement): boolean {
  const { kind, node } = statement;
  return kind === 'CopyStmt' && node.is_from === true && node.filename === undefined && !node.is_program;
}

/**
 * Parses one file and checks it for how it will run. `role` words the advice: a rollback file always
 * runs in one transaction.
 */
export async function readStatements(
  text: string,
  options: { transactional: boolean; role: 'migration' | 'rollback' },
): Promise<ParsedFile> {
  let parsed: ParsedStatement[];
  try {
    parsed = await parseStatements(text);
  } catch (error) {
    if (error instanceof SqlSyntaxError)
      return {
        problem: `line ${error.line}: ${error.message} (PostgreSQL's own parser read the file; nothing of it can run)`,
      };
    throw error;
  }
  for (const statement of parsed) {
    if (copyFromClient(statement))
      return {
        problem: `line ${statement.line}: COPY … FROM STDIN reads its rows from the client (psql's data stream), which a migration run cannot send: use INSERT statements, or COPY from a file on the database server`,
      };
    if (!options.transactional) continue;
    const control =
      statement.kind === 'TransactionStmt' ? ENDS_OR_STARTS[String(statement.node.kind)] : undefined;
    if (control)
      return {
        problem:
          options.role === 'rollback'
            ? `line ${statement.line} (${control}) ends or starts a transaction: a rollback file already runs in one, with the removal of its tracking row — remove it`
            : `line ${statement.line} (${control}) ends or starts a transaction: each migration already runs in one, with its tracking row — remove it, or put -- runbook:no-transaction on the first line`,
      };
    const outside = outsideOnly(statement);
    if (outside)
      return {
        problem:
          options.role === 'rollback'
            ? `line ${statement.line} (${outside}) cannot run inside a transaction, and a rollback file runs in one — do it in a migration of its own with -- runbook:no-transaction on its first line`
            : `line ${statement.line} (${outside}) cannot run inside a transaction: put -- runbook:no-transaction on the first line (its statements then run one by one, each on its own)`,
      };
  }
  return {
    statements: parsed.map((statement) => {
      const index = concurrentIndexOf(statement);
      return { sql: statement.sql, line: statement.line, ...(index ? { concurrentIndex: index } : {}) };
    }),
  };
}
