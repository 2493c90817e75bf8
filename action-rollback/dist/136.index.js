export const id = 136;
export const ids = [136];
export const modules = {

/***/ 7136:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  Zy: () => (/* binding */ compareVersions),
  mh: () => (/* binding */ lineAt),
  sC: () => (/* binding */ pendingStatements),
  readMigrations: () => (/* binding */ readMigrations),
  dv: () => (/* binding */ statementsToRun),
  e1: () => (/* binding */ versionNumber)
});

// UNUSED EXPORTS: DEFAULT_MAX_FILE_BYTES, NO_TRANSACTION, sha256

// EXTERNAL MODULE: external "node:crypto"
var external_node_crypto_ = __webpack_require__(7598);
// EXTERNAL MODULE: external "node:fs/promises"
var promises_ = __webpack_require__(1455);
// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __webpack_require__(6760);
// EXTERNAL MODULE: ./shared/src/config/parse.ts
var parse = __webpack_require__(469);
// EXTERNAL MODULE: ./shared/src/errors.ts
var errors = __webpack_require__(3904);
;// CONCATENATED MODULE: ./shared/src/postgres/sql-parser.ts
/** The text is not SQL PostgreSQL's grammar accepts; `line` is where the parser stopped. */
class SqlSyntaxError extends Error {
    line;
    constructor(message, line) {
        super(message);
        this.line = line;
        this.name = 'SqlSyntaxError';
    }
}
let parser;
/** Loads the parser once per process; a bundle without its .wasm says so instead of crashing. */
function loadParser() {
    parser ??= __webpack_require__.e(/* import() */ 627).then(__webpack_require__.t.bind(__webpack_require__, 2627, 23)).then(async (module) => {
        await module.loadModule();
        return module;
    });
    return parser.catch((error) => {
        parser = undefined;
        throw new Error(`PostgreSQL's SQL parser (libpg-query.wasm, shipped beside the bundle) could not load: ${error instanceof Error ? error.message : String(error)}`);
    });
}
function kindOf(node) {
    const [kind, body] = Object.entries(node ?? {})[0] ?? ['Unknown', {}];
    return [kind, (body ?? {})];
}
/**
 * Every statement of a text, in order, with its line. Empty statements (`;;`) and a text of comments
 * only give none. The parser's locations are UTF-8 byte offsets; texts are sliced as bytes.
 */
async function parseStatements(text) {
    if (text.trim() === '')
        return [];
    const { parseSync, hasSqlDetails } = await loadParser();
    const bytes = Buffer.from(text, 'utf8');
    let stmts;
    try {
        stmts = parseSync(text).stmts ?? [];
    }
    catch (error) {
        if (hasSqlDetails(error)) {
            // The error's position counts characters (the server's errposition), not bytes.
            const at = Math.max(0, error.sqlDetails?.cursorPosition ?? 0);
            throw new SqlSyntaxError(error.message, text.slice(0, at).split('\n').length);
        }
        throw error;
    }
    const out = [];
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
function lineOfByte(bytes, offset, cursor) {
    let at = cursor.from;
    let line = cursor.line;
    const stop = Math.min(offset, bytes.length);
    for (;;) {
        const newline = bytes.indexOf(0x0a, at);
        if (newline === -1 || newline >= stop)
            break;
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
async function redactLiterals(text, maxChars = 80) {
    const { scanSync } = await loadParser();
    const bytes = Buffer.from(text, 'utf8');
    const scan = (length) => {
        try {
            return scanSync(bytes.toString('utf8', 0, length)).tokens;
        }
        catch {
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
            if (scan(mid))
                good = mid;
            else
                bad = mid;
        }
        tokens = scan(good) ?? [];
        rest = ' ?';
    }
    const parts = [];
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

;// CONCATENATED MODULE: ./shared/src/postgres/migrations/statements.ts
/**
 * A migration file as PostgreSQL's parser reads it: its statements (each sent on its own, so a
 * failure names its line) and what makes it unable to run the way it is declared — checked before
 * anything is applied. A transactional file may not end or start a transaction (the runner's own
 * transaction is what makes it all or nothing), nor hold a statement the server refuses inside one;
 * no file may read COPY data from the client, which a driver cannot supply.
 */

function concurrentIndexOf(statement) {
    const { kind, node } = statement;
    if (kind !== 'IndexStmt' || !node.concurrent || typeof node.idxname !== 'string')
        return undefined;
    const schema = node.relation?.schemaname;
    return { ...(typeof schema === 'string' ? { schema } : {}), name: node.idxname };
}
/** Transaction statements that end the runner's transaction or start another; savepoints stay inside it. */
const ENDS_OR_STARTS = {
    TRANS_STMT_BEGIN: 'BEGIN',
    TRANS_STMT_START: 'START TRANSACTION',
    TRANS_STMT_COMMIT: 'COMMIT',
    TRANS_STMT_ROLLBACK: 'ROLLBACK',
    TRANS_STMT_PREPARE: 'PREPARE TRANSACTION',
    TRANS_STMT_COMMIT_PREPARED: 'COMMIT PREPARED',
    TRANS_STMT_ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
};
/** What the server refuses inside a transaction block ("cannot run inside a transaction block"). */
function outsideOnly(statement) {
    const { kind, node } = statement;
    if (kind === 'IndexStmt' && node.concurrent)
        return 'CREATE INDEX CONCURRENTLY';
    if (kind === 'DropStmt' && node.concurrent)
        return 'DROP INDEX CONCURRENTLY';
    if (kind === 'ReindexStmt' && JSON.stringify(node.params ?? []).includes('"concurrently"'))
        return 'REINDEX CONCURRENTLY';
    if (kind === 'VacuumStmt')
        return node.is_vacuumcmd ? 'VACUUM' : undefined;
    const named = {
        CreatedbStmt: 'CREATE DATABASE',
        DropdbStmt: 'DROP DATABASE',
        AlterSystemStmt: 'ALTER SYSTEM',
        CreateTableSpaceStmt: 'CREATE TABLESPACE',
        DropTableSpaceStmt: 'DROP TABLESPACE',
        CreateSubscriptionStmt: 'CREATE SUBSCRIPTION',
    };
    return named[kind];
}
function copyFromClient(statement) {
    const { kind, node } = statement;
    return kind === 'CopyStmt' && node.is_from === true && node.filename === undefined && !node.is_program;
}
/**
 * Parses one file and checks it for how it will run. `role` words the advice: a rollback file always
 * runs in one transaction.
 */
async function readStatements(text, options) {
    let parsed;
    try {
        parsed = await parseStatements(text);
    }
    catch (error) {
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
        if (!options.transactional)
            continue;
        const control = statement.kind === 'TransactionStmt' ? ENDS_OR_STARTS[String(statement.node.kind)] : undefined;
        if (control)
            return {
                problem: options.role === 'rollback'
                    ? `line ${statement.line} (${control}) ends or starts a transaction: a rollback file already runs in one, with the removal of its tracking row — remove it`
                    : `line ${statement.line} (${control}) ends or starts a transaction: each migration already runs in one, with its tracking row — remove it, or put -- runbook:no-transaction on the first line`,
            };
        const outside = outsideOnly(statement);
        if (outside)
            return {
                problem: options.role === 'rollback'
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

// EXTERNAL MODULE: ./shared/src/postgres/migrations/names.ts
var migrations_names = __webpack_require__(6941);
;// CONCATENATED MODULE: ./shared/src/postgres/migrations/files.ts
/**
 * The migrations folder: `NNN_name.sql` with an optional `NNN_name_rollback.sql` beside it. Any other
 * `.sql` name is an error naming the file — a typo must not be skipped silently — and so are two files
 * with one version.
 */








const NO_TRANSACTION = /^--\s*runbook:no-transaction\s*$/;
const IRREVERSIBLE = /^[ \t]*--\s*runbook:irreversible\b/m;
function versionNumber(version) {
    return BigInt(version);
}
function compareVersions(a, b) {
    const x = versionNumber(a);
    const y = versionNumber(b);
    return x < y ? -1 : x > y ? 1 : 0;
}
function sha256(text) {
    return (0,external_node_crypto_.createHash)('sha256').update(text).digest('hex');
}
/** `confinement.root` already resolved (readMigrations resolves it once). */
async function refuseOutside(path, confinement, input, what) {
    if (!confinement)
        return;
    const real = await (0,promises_.realpath)(path);
    const rel = (0,external_node_path_.relative)(confinement.root, real);
    if (rel.startsWith('..') || (0,external_node_path_.isAbsolute)(rel))
        throw new errors/* ConfigurationError */.j1(input, `${what} resolves to ${real}, outside the workspace ${confinement.root} (a symbolic link?): nothing was read or applied. Set ${confinement.allowedBy}: true if migrations really live there.`);
}
async function readMigrations(dir, input = 'migrations-dir', confinement) {
    // Only the files that will run are parsed (statementsToRun): an applied file is never judged again.
    let names;
    try {
        names = await (0,promises_.readdir)(dir);
    }
    catch {
        throw new errors/* ConfigurationError */.j1(input, `${JSON.stringify(dir)} is not a readable directory (is the repository checked out?).`);
    }
    const within = confinement && { ...confinement, root: await (0,promises_.realpath)(confinement.root) };
    await refuseOutside(dir, within, input, JSON.stringify(dir));
    const forward = new Map();
    const rollbacks = new Map();
    for (const file of names.filter((n) => n.toLowerCase().endsWith('.sql')).sort()) {
        const match = migrations_names/* MIGRATION */.DM.exec(file);
        if (!match) {
            throw new errors/* ConfigurationError */.j1(input, `holds ${JSON.stringify(file)}, which is not NNN_name.sql or NNN_name_rollback.sql: rename it (a migration that is skipped silently is worse than one that fails).`);
        }
        const [, version, name, isRollback] = match;
        await refuseOutside((0,external_node_path_.join)(dir, file), within, input, `its file ${file}`);
        const raw = await (0,promises_.readFile)((0,external_node_path_.join)(dir, file), 'utf8');
        // An editor's byte-order mark is not SQL (the checksum still covers the file as it is).
        const sql = raw.replace(/^\uFEFF/, '');
        const key = versionNumber(version).toString();
        if (isRollback) {
            if (rollbacks.has(key))
                throw new errors/* ConfigurationError */.j1(input, `has two rollback files for version ${version}.`);
            rollbacks.set(key, { file, sql, name });
            continue;
        }
        const existing = forward.get(key);
        if (existing)
            throw new errors/* ConfigurationError */.j1(input, `has two migrations numbered ${version}: ${existing.file} and ${file}.`);
        const noTransaction = NO_TRANSACTION.test(sql.split('\n', 1)[0] ?? '');
        forward.set(key, {
            version,
            name,
            file,
            sql,
            sha256: sha256(raw),
            noTransaction,
            irreversible: IRREVERSIBLE.test(sql),
        });
    }
    for (const [key, rollback] of rollbacks) {
        const migration = forward.get(key);
        if (!migration)
            throw new errors/* ConfigurationError */.j1(input, `holds the rollback ${rollback.file} but no migration numbered ${key}.`);
        migration.rollback = { file: rollback.file, sql: rollback.sql };
    }
    return [...forward.values()].sort((a, b) => compareVersions(a.version, b.version));
}
/**
 * The statements of the files about to run, read by PostgreSQL's parser before anything is applied.
 * Every file's problem is named at once (file, line, what to do); a file over `maxBytes` is not parsed.
 */
async function statementsToRun(runs, maxBytes, input = 'migrations-dir') {
    const statements = new Map();
    const problems = [];
    for (const run of runs) {
        const bytes = Buffer.byteLength(run.sql);
        if (bytes > maxBytes) {
            problems.push(`${run.file} is ${(0,parse/* formatBytes */.z3)(bytes)}, over max-file-size (${(0,parse/* formatBytes */.z3)(maxBytes)}): raise max-file-size to apply it, or load bulk data outside migrations (pg_restore, COPY from a server file)`);
            continue;
        }
        const parsed = await readStatements(run.sql, run);
        if (parsed.problem !== undefined)
            problems.push(`${run.file} ${parsed.problem}`);
        else
            statements.set(run.file, parsed.statements);
    }
    if (problems.length)
        throw new errors/* ConfigurationError */.j1(input, `holds ${problems.join('; ')}. Nothing was applied.`);
    return statements;
}
/** The pending migrations' statements, each file read as it will run (in a transaction, or not). */
function pendingStatements(pending, maxBytes) {
    return statementsToRun(pending.map((f) => ({
        file: f.file,
        sql: f.sql,
        transactional: !f.noTransaction,
        role: 'migration',
    })), maxBytes);
}
/** 1-based line of a character offset (PostgreSQL's error `position`) in a text. */
function lineAt(text, position) {
    return text.slice(0, Math.max(0, position - 1)).split('\n').length;
}


/***/ })

};
