export const id = 750;
export const ids = [750,894,335,136];
export const modules = {

/***/ 3894:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   openEndpoint: () => (/* binding */ openEndpoint)
/* harmony export */ });
/* harmony import */ var node_net__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(7030);
/* harmony import */ var node_net__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_net__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var _ssh_connect_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(5820);
/* harmony import */ var _ssh_target_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(8229);
/**
 * Reaching the database: directly, or — when it listens only on the droplet — through an SSH
 * tunnel opened with the suite's SSH layer (same host-key pinning, retries and jump host). The
 * tunnel is a local TCP listener on 127.0.0.1 whose every connection becomes a direct-tcpip
 * channel to the URL's host and port, resolved on the droplet; pg_dump, psql and node-pg all
 * connect to it as to any server.
 */



async function openEndpoint(db, via, log) {
    if (!via)
        return { db, reach: {}, route: 'directly', close: async () => undefined };
    const session = await (0,_ssh_connect_js__WEBPACK_IMPORTED_MODULE_1__/* .openSession */ .f)(via.host, via.ssh, log);
    try {
        const server = await listenForwarding(session, db.host, db.port);
        const address = server.address();
        log.info(`database ${db.host}:${db.port} reached through ${(0,_ssh_target_js__WEBPACK_IMPORTED_MODULE_2__/* .describeTarget */ .f)(via.host)} (tunnel on 127.0.0.1:${address.port})`);
        return {
            db,
            reach: { address: '127.0.0.1', port: address.port },
            route: `through ${(0,_ssh_target_js__WEBPACK_IMPORTED_MODULE_2__/* .describeTarget */ .f)(via.host)}`,
            close: async () => {
                await new Promise((resolve) => server.close(() => resolve()));
                session.close();
            },
        };
    }
    catch (error) {
        session.close();
        throw error;
    }
}
function listenForwarding(session, host, port) {
    const sockets = new Set();
    const server = (0,node_net__WEBPACK_IMPORTED_MODULE_0__.createServer)((socket) => {
        sockets.add(socket);
        socket.setNoDelay(true);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => socket.destroy());
        socket.pause();
        session.forward(host, port).then((channel) => {
            channel.on('error', () => socket.destroy());
            socket.on('close', () => channel.destroy());
            channel.on('close', () => socket.destroy());
            socket.pipe(channel).pipe(socket);
            socket.resume();
        }, () => socket.destroy());
    });
    // close() waits for open connections; the tools have exited by then, but a stray one must not hang us.
    const close = server.close.bind(server);
    server.close = (callback) => {
        for (const socket of sockets)
            socket.destroy();
        return close(callback);
    };
    return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server));
    });
}


/***/ }),

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


/***/ }),

/***/ 6750:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  migrate: () => (/* binding */ migrate)
});

// UNUSED EXPORTS: refuseUnsafe

// EXTERNAL MODULE: ./shared/src/errors.ts
var errors = __webpack_require__(3904);
// EXTERNAL MODULE: ./shared/src/postgres/database-url.ts
var database_url = __webpack_require__(7014);
// EXTERNAL MODULE: ./shared/src/postgres/endpoint.ts
var postgres_endpoint = __webpack_require__(3894);
// EXTERNAL MODULE: ./shared/src/postgres/session.ts
var postgres_session = __webpack_require__(9335);
// EXTERNAL MODULE: ./shared/src/postgres/migrations/files.ts + 2 modules
var migrations_files = __webpack_require__(7136);
// EXTERNAL MODULE: external "node:fs"
var external_node_fs_ = __webpack_require__(3024);
// EXTERNAL MODULE: ./shared/src/postgres/manifest.ts + 1 modules
var postgres_manifest = __webpack_require__(8925);
;// CONCATENATED MODULE: ./shared/src/postgres/migrations/gate.ts
/**
 * The backup gate: `migrate` and `rollback` (a _rollback.sql typically drops tables) change the
 * schema only after a backup of this database, taken by action-db-backup in the same run, passed
 * verification less than `backup-max-age` ago.
 */



async function checkBackupGate(gate, database, now = Date.now(), mode = 'migrate') {
    if (!gate.required)
        return 'backup gate off (require-backup: false)';
    const refuse = (why) => new errors/* SafetyRefusal */.V2(mode === 'rollback'
        ? `Refused to roll back migrations of ${database}: ${why}. Nothing was rolled back.`
        : `Refused to migrate ${database}: ${why}. Nothing was applied.`, 'run action-db-backup (verify: list or more) in the same job before this step and pass its `manifest` output as backup-manifest; or set require-backup: false if a backup is taken another way.');
    if (!gate.manifest)
        throw refuse('no backup-manifest was given');
    const path = gate.manifest.endsWith('.manifest.json') ? gate.manifest : (0,postgres_manifest/* manifestPath */.ji)(gate.manifest);
    if (!(0,external_node_fs_.existsSync)(path))
        throw refuse(`the backup manifest ${path} does not exist`);
    const manifest = await (0,postgres_manifest/* readManifest */.WI)(path);
    if (manifest.database !== database)
        throw refuse(`the backup is of the database ${JSON.stringify(manifest.database)}, not ${JSON.stringify(database)}`);
    const verified = (0,postgres_manifest/* lastVerified */.T5)(manifest);
    if (!verified) {
        const last = manifest.verifications.at(-1);
        throw refuse(last ? `the backup FAILED its verification (${last.level})` : 'the backup was never verified');
    }
    const age = now - Date.parse(manifest.finishedAt);
    if (age > gate.maxAgeMs)
        throw refuse(`the backup was taken ${Math.round(age / 60_000)} min ago, more than backup-max-age (${Math.round(gate.maxAgeMs / 60_000)} min)`);
    return `backup gate passed: ${manifest.file}, verified (${verified.level}), taken ${Math.round(age / 1000)} s ago`;
}

;// CONCATENATED MODULE: ./shared/src/postgres/migrations/plan.ts

const key = (version) => (0,migrations_files/* versionNumber */.e1)(version).toString();
function planMigrations(files, rows) {
    const byVersion = new Map(files.map((f) => [key(f.version), f]));
    const appliedKeys = new Set(rows.map((r) => key(r.version)));
    const plan = { applied: [], pending: [], changed: [], missing: [], outOfOrder: [] };
    for (const row of rows) {
        const file = byVersion.get(key(row.version));
        plan.applied.push({ ...(file ? { file } : {}), row });
        if (!file)
            plan.missing.push(row);
        else if (file.sha256 !== row.sha256)
            plan.changed.push({ file, row });
    }
    const highest = rows
        .map((r) => r.version)
        .sort(migrations_files/* compareVersions */.Zy)
        .at(-1);
    for (const file of files) {
        if (appliedKeys.has(key(file.version)))
            continue;
        plan.pending.push(file);
        if (highest !== undefined && (0,migrations_files/* compareVersions */.Zy)(file.version, highest) < 0)
            plan.outOfOrder.push(file);
    }
    if (highest !== undefined)
        plan.currentVersion = byVersion.get(key(highest))?.version ?? highest;
    return plan;
}

// EXTERNAL MODULE: ./shared/src/retry/backoff.ts
var backoff = __webpack_require__(8874);
// EXTERNAL MODULE: ./shared/src/postgres/migrations/tracking.ts
var tracking = __webpack_require__(6556);
;// CONCATENATED MODULE: ./shared/src/postgres/migrations/run.ts
/**
 * Applying and rolling back migrations on one session that holds a PostgreSQL advisory lock for the
 * whole run, so two runs (a deploy and an engineer's CLI) never interleave and each migration applies
 * exactly once. Each migration runs in its own transaction with lock_timeout and statement_timeout,
 * its tracking row written in the same transaction; a failure rolls both back.
 */




/** A migration that failed: PostgreSQL's SQLSTATE, and how many of its statements took effect (outside a transaction). */
class MigrationFailed extends errors/* OperationError */.OK {
    code;
    completedStatements;
    constructor(message, hint, code, completedStatements) {
        super(message, hint);
        this.code = code;
        this.completedStatements = completedStatements;
    }
}
const LOCK_NOT_AVAILABLE = '55P03';
/** One advisory lock per tracking table: runs against other tables do not block each other. */
function lockKey(table) {
    return `runbook-migrations:${(0,tracking/* sqlName */.iA)(table)}`;
}
async function acquireMigrationLock(session, table, waitMs, log) {
    const client = session.client;
    const got = await client.query('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
        lockKey(table),
    ]);
    if (got.rows[0]?.ok)
        return;
    const holder = await client.query(`SELECT a.pid, coalesce(a.application_name, '') AS app, a.backend_start AS since
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.objid = (hashtext($1)::bigint & 4294967295)::oid AND l.granted LIMIT 1`, [lockKey(table)]);
    const who = holder.rows[0]
        ? `pid ${holder.rows[0].pid}${holder.rows[0].app ? ` (${holder.rows[0].app})` : ''}`
        : 'another session';
    log.info(`another migration run holds the lock (${who}); waiting up to ${Math.round(waitMs / 1000)} s`);
    try {
        await client.query(`SET lock_timeout = ${Math.max(1, Math.round(waitMs))}`);
        await client.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey(table)]);
    }
    catch (error) {
        if (error.code === '55P03') {
            throw new errors/* SafetyRefusal */.V2(`Another migration run (${who}) held the migration lock for longer than lock-wait (${Math.round(waitMs / 1000)} s). Nothing was applied.`, 'wait for it to finish (a deploy pipeline, or an engineer running `runbook migrate`), then run again; raise lock-wait if it is expected.');
        }
        throw error;
    }
    finally {
        await client.query('RESET lock_timeout').catch(() => undefined);
    }
}
async function releaseMigrationLock(session, table) {
    await session.client
        .query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey(table)])
        .catch(() => undefined);
}
/** `startLine`: where `sql` starts in the file, when it is one statement of it (else the line is known only from a position). */
function failureText(file, sql, error, startLine, timeouts) {
    const e = error;
    const line = e.position ? (0,migrations_files/* lineAt */.mh)(sql, Number(e.position)) + (startLine ?? 1) - 1 : startLine;
    const why = e.code === '55P03' && timeouts
        ? ` — lock-timeout (${timeouts.lockTimeoutMs} ms): it waited for a lock another session holds (a long query or transaction on that table)`
        : e.code === '57014' && timeouts?.statementTimeoutMs
            ? ` — statement-timeout (${timeouts.statementTimeoutMs} ms)`
            : '';
    return `${file}${line ? ` line ${line}` : ''}: ${(0,errors/* errorText */.kc)(error)}${e.detail ? ` (${e.detail})` : ''}${e.code ? ` [${e.code}]` : ''}${why}`;
}
async function setTimeouts(session, timeouts, local) {
    const scope = local ? 'SET LOCAL' : 'SET';
    await session.client.query(`${scope} lock_timeout = ${Math.round(timeouts.lockTimeoutMs)}`);
    await session.client.query(`${scope} statement_timeout = ${Math.round(timeouts.statementTimeoutMs)}`);
}
/** The rows a statement's command tag reports; none for DDL (and for a multi-statement result, their sum). */
function rowsOf(result) {
    const results = Array.isArray(result) ? result : [result];
    return results.reduce((sum, r) => sum + (r.command && r.command !== 'SELECT' && typeof r.rowCount === 'number' ? r.rowCount : 0), 0);
}
/** No answer from the server (a node socket error, or the server ending the session), not an SQL error. */
function connectionLost(error) {
    const e = error;
    return typeof e.severity !== 'string' || /^(08|57P)/.test(String(e.code));
}
/**
 * Runs statements in one transaction and commits it, calling `last` inside before COMMIT. What a
 * failure message says about the outcome is what the server did: rolled back (ROLLBACK answered, or
 * the session died before COMMIT, which the server discards), or unknown when COMMIT itself got no
 * answer.
 */
async function inTransaction(session, run, words, last) {
    const client = session.client;
    await client.query('BEGIN');
    // The statement running when it failed; none once they all ran (then `last` failed).
    let running;
    try {
        await setTimeouts(session, run.timeouts, true);
        for (const statement of run.statements) {
            running = statement;
            const result = await client.query(statement.sql);
            if (run.rows)
                run.rows.touched += rowsOf(result);
        }
        running = undefined;
        await last();
    }
    catch (error) {
        const rolledBack = await client.query('ROLLBACK').then(() => true, () => false);
        const where = running
            ? failureText(run.file, running.sql, error, running.line, run.timeouts)
            : `${run.file}: ${(0,errors/* errorText */.kc)(error)}`;
        throw new MigrationFailed(`${words.failed} ${where}. ${rolledBack
            ? `Nothing of it was applied: its transaction rolled back, ${words.rolledBack}.`
            : `The session to the database ended before COMMIT, and PostgreSQL discards a transaction that was not committed: nothing of it was applied, ${words.rolledBack}.`}`, words.advice, error.code, 0);
    }
    try {
        await client.query('COMMIT');
    }
    catch (error) {
        // A server that answers COMMIT with an error (a deferred constraint) has rolled the transaction back.
        if (!connectionLost(error))
            throw new errors/* OperationError */.OK(`${words.failed} ${run.file} failed at COMMIT: ${(0,errors/* errorText */.kc)(error)}. Nothing of it was applied: its transaction rolled back, ${words.rolledBack}.`, words.advice);
        throw new errors/* OperationError */.OK(`The connection to the database was lost while committing ${run.file} (${(0,errors/* errorText */.kc)(error)}): whether it was applied is unknown — its tracking row is in the same transaction, so the tracking table tells.`, 'run mode: status to see whether it is recorded as applied, then run again (an applied one is not applied twice).');
    }
}
/** Applies one migration; throws an OperationError naming the file, the line and PostgreSQL's message. */
async function applyMigration(session, table, migration, statements, timeouts, appliedBy, 
/** Runs inside a transactional migration's transaction after its statements (the rehearsal reads its locks). */
beforeCommit, 
/** Outside a transaction: the statements before this one took effect in an earlier attempt. */
from = 0, log) {
    const client = session.client;
    const started = performance.now();
    const rows = { touched: 0 };
    const done = () => ({
        version: migration.version,
        name: migration.name,
        file: migration.file,
        sha256: migration.sha256,
        durationMs: Math.round(performance.now() - started),
        noTransaction: migration.noTransaction,
        rowsTouched: rows.touched,
    });
    const record = (result) => (0,tracking/* recordApplied */.RC)(session, table, {
        version: migration.version,
        name: migration.name,
        sha256: migration.sha256,
        applied_by: appliedBy,
        duration_ms: result.durationMs,
    });
    if (!migration.noTransaction) {
        let result;
        await inTransaction(session, { file: migration.file, statements, timeouts, rows }, {
            failed: 'Migration',
            rolledBack: 'the tracking table is unchanged',
            advice: 'fix the migration (or wait out the session holding the lock) and run again; migrations before it stay applied.',
        }, async () => {
            await beforeCommit?.();
            result = done();
            await record(result);
        });
        return result;
    }
    // Outside a transaction: statement by statement; what ran before a failure stays.
    await setTimeouts(session, timeouts, false);
    try {
        for (const [n, statement] of statements.entries()) {
            if (n < from)
                continue;
            if (statement.concurrentIndex)
                await dropInvalidIndex(session, statement.concurrentIndex, migration.file, log);
            try {
                rows.touched += rowsOf(await client.query(statement.sql));
            }
            catch (error) {
                throw new MigrationFailed(`Migration ${failureText(migration.file, statement.sql, error, statement.line, timeouts)}. It runs outside a transaction (-- runbook:no-transaction): ${n} of ${statements.length} statements before it took effect and stay; it is not recorded as applied.`, 'inspect what the earlier statements did, make the file safe to run again (IF NOT EXISTS), and run again.', error.code, n);
            }
        }
        const result = done();
        await record(result);
        return result;
    }
    finally {
        await client.query('RESET lock_timeout; RESET statement_timeout').catch(() => undefined);
    }
}
/**
 * An interrupted `CREATE INDEX CONCURRENTLY` (a lock timeout while it waited for old transactions, a
 * cancelled run) leaves its index INVALID: never used by the planner, still maintained on every write,
 * and skipped by a rerun's `IF NOT EXISTS`. Found by name before the statement runs, reported, dropped.
 */
async function dropInvalidIndex(session, index, file, log) {
    const qualified = index.schema
        ? `${(0,database_url/* quoteIdent */.v4)(index.schema)}.${(0,database_url/* quoteIdent */.v4)(index.name)}`
        : (0,database_url/* quoteIdent */.v4)(index.name);
    const found = await session.client.query('SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass($1)', [qualified]);
    if (!found.rows.length || found.rows[0]?.valid)
        return false;
    log?.warn(`${file}: index ${qualified} is INVALID (left by an interrupted CREATE INDEX CONCURRENTLY); dropping it before building it again`);
    await session.client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${qualified}`);
    return true;
}
/** Runs a migration's rollback file and removes its tracking row, in one transaction. */
async function rollBackMigration(session, table, migration, statements, timeouts) {
    const rollback = migration.rollback;
    const started = performance.now();
    await inTransaction(session, { file: rollback.file, statements, timeouts }, {
        failed: 'Rollback',
        rolledBack: 'the migration stays applied',
        advice: 'fix the rollback file and run again.',
    }, () => (0,tracking/* removeApplied */.AY)(session, table, migration.version));
    return Math.round(performance.now() - started);
}

// EXTERNAL MODULE: external "node:child_process"
var external_node_child_process_ = __webpack_require__(1421);
// EXTERNAL MODULE: external "node:util"
var external_node_util_ = __webpack_require__(7975);
// EXTERNAL MODULE: external "node:fs/promises"
var promises_ = __webpack_require__(1455);
// EXTERNAL MODULE: external "node:os"
var external_node_os_ = __webpack_require__(8161);
// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __webpack_require__(6760);
;// CONCATENATED MODULE: ./shared/src/postgres/migrations/squawk.ts
/**
 * Finding the pinned squawk (the PostgreSQL migration linter, sbdchd/squawk): its 25 MB binary comes
 * in npm's `@squawk-cli/<platform>` package, so it is installed at run time into the tool cache —
 * never bundled into a committed dist. `RUNBOOK_SQUAWK` names a binary to use instead (an offline
 * runner, the tests).
 */







const SQUAWK_VERSION = '2.66.0';
/** npm fetching two packages (~10 MB packed): generous, but never unbounded. */
const INSTALL_TIMEOUT_MS = 180_000;
const run = (0,external_node_util_.promisify)(external_node_child_process_.execFile);
function platformPackage() {
    const os = process.platform === 'win32' ? 'win32' : process.platform;
    return `@squawk-cli/${os}-${process.arch}`;
}
function cacheDir() {
    return (0,external_node_path_.join)(process.env.RUNNER_TOOL_CACHE || (0,external_node_os_.tmpdir)(), 'runbook-squawk', SQUAWK_VERSION);
}
function binaryIn(dir) {
    return (0,external_node_path_.join)(dir, 'node_modules', platformPackage(), 'bin', process.platform === 'win32' ? 'squawk.exe' : 'squawk');
}
/** The squawk binary's path; installs the pinned version once per tool cache. Throws an OperationError when it cannot. */
async function findSquawk(log) {
    const given = process.env.RUNBOOK_SQUAWK;
    if (given) {
        if (!(0,external_node_fs_.existsSync)(given))
            throw new errors/* OperationError */.OK(`RUNBOOK_SQUAWK names ${given}, which does not exist.`, 'point it at a squawk binary, or unset it to install the pinned one.');
        return given;
    }
    const dir = cacheDir();
    const binary = binaryIn(dir);
    if ((0,external_node_fs_.existsSync)(binary))
        return binary;
    log.info(`installing squawk-cli@${SQUAWK_VERSION} into ${dir} (npm, up to ${INSTALL_TIMEOUT_MS / 1000} s)`);
    try {
        await (0,promises_.mkdir)(dir, { recursive: true });
        await run(process.platform === 'win32' ? 'npm.cmd' : 'npm', [
            'install',
            '--prefix',
            dir,
            '--no-save',
            '--no-package-lock',
            '--no-audit',
            '--no-fund',
            '--ignore-scripts',
            `squawk-cli@${SQUAWK_VERSION}`,
        ], { timeout: INSTALL_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 8 << 20 });
    }
    catch (error) {
        throw new errors/* OperationError */.OK(`The migration linter could not be installed (npm install squawk-cli@${SQUAWK_VERSION}): ${(0,errors/* errorText */.kc)(error).split('\n')[0]}.`, 'check that the runner reaches the npm registry, or set RUNBOOK_SQUAWK to a squawk binary; lint: warn goes on without it, lint: off skips it.', { cause: error });
    }
    if (!(0,external_node_fs_.existsSync)(binary))
        throw new errors/* OperationError */.OK(`npm installed squawk-cli@${SQUAWK_VERSION} but no ${platformPackage()} binary came with it (no build for this platform?).`, 'set RUNBOOK_SQUAWK to a squawk binary, or lint: off.');
    return binary;
}

;// CONCATENATED MODULE: ./shared/src/postgres/migrations/lint.ts
/**
 * Lint before apply: squawk's rules on every pending migration, with the server's version and, for a
 * transactional file, `--assume-in-transaction` (the runner wraps it in one). Its own
 * `-- squawk-ignore` comments and a `.squawk.toml` beside the files are honoured (squawk reads them).
 *
 * Under `lint: error` a violation of a rule about locks, blocking or breaking a running app stops the
 * run before anything is applied; squawk's `prefer-*` style advice (bigint over int, identity over
 * serial…) is reported but never stops a deploy. The two rules demanding `SET lock_timeout` /
 * `SET statement_timeout` in the file are left out: the runner sets both around every migration.
 */




const LINT_LEVELS = (/* unused pure expression or super */ null && (['error', 'warn', 'off']));
/** Set by the runner around every migration (lock-timeout, statement-timeout): not the file's job. */
const SET_BY_RUNNER = [
    'require-lock-timeout',
    'require-statement-timeout',
    'require-timeout-settings',
];
const LINT_TIMEOUT_MS = 60_000;
/** Style advice: reported, never stopping a deploy. */
function isAdvice(rule) {
    return rule.startsWith('prefer-') || rule === 'ban-char-field';
}
const lint_run = (0,external_node_util_.promisify)(external_node_child_process_.execFile);
async function squawkOn(binary, dir, files, args) {
    if (!files.length)
        return [];
    let stdout;
    try {
        ({ stdout } = await lint_run(binary, [...args, ...files], {
            cwd: dir,
            timeout: LINT_TIMEOUT_MS,
            killSignal: 'SIGKILL',
            maxBuffer: 32 << 20,
        }));
    }
    catch (error) {
        // Exit 1 with a JSON list is squawk saying it found violations; anything else is a failure to run.
        const e = error;
        if (e.code !== 1 || typeof e.stdout !== 'string' || !e.stdout.trim().startsWith('['))
            throw new errors/* OperationError */.OK(`squawk did not run on ${files.join(', ')}${e.killed ? ` (stopped after ${LINT_TIMEOUT_MS / 1000} s)` : ''}: ${(e.stderr || (0,errors/* errorText */.kc)(error)).trim().split('\n').slice(0, 3).join(' ')}`, 'lint: warn goes on without the lint, lint: off skips it.');
        stdout = e.stdout;
    }
    const text = stdout.trim();
    if (!text)
        return [];
    return JSON.parse(text);
}
/** Lints the files about to run. Throws nothing for violations: the caller decides on `blocking()`. */
async function lintMigrations(pending, options, log) {
    const report = {
        level: options.level,
        ran: false,
        squawk: SQUAWK_VERSION,
        files: pending.map((f) => f.file),
        violations: [],
        excluded: SET_BY_RUNNER.map((rule) => `${rule} (the runner sets it around every migration)`),
    };
    if (options.level === 'off' || !pending.length)
        return report;
    try {
        const binary = await findSquawk(log);
        const common = [
            '--reporter=json',
            `--pg-version=${options.pgVersion}`,
            `--exclude=${SET_BY_RUNNER.join(',')}`,
            '--no-error-on-unmatched-pattern',
        ];
        const transactional = pending.filter((f) => !f.noTransaction).map((f) => f.file);
        const outside = pending.filter((f) => f.noTransaction).map((f) => f.file);
        const found = [
            ...(await squawkOn(binary, options.dir, transactional, [...common, '--assume-in-transaction'])),
            ...(await squawkOn(binary, options.dir, outside, [...common, '--no-assume-in-transaction'])),
        ];
        report.ran = true;
        report.violations = found
            .map((v) => ({
            file: v.file.replace(/^\.\//, ''),
            line: v.line + 1, // squawk counts from 0
            rule: v.rule_name,
            message: v.message,
            ...(v.help ? { help: v.help } : {}),
            stops: options.level === 'error' && !isAdvice(v.rule_name),
        }))
            .sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
    }
    catch (error) {
        if (!(error instanceof errors/* OperationError */.OK))
            throw error;
        if (options.level === 'error')
            throw new errors/* OperationError */.OK(`The migration lint could not run, and lint is error: ${error.message} Nothing was applied.`, error.hint);
        report.notRun = error.message;
        log.warn(`migration lint did not run: ${error.message}`);
        return report;
    }
    for (const v of report.violations) {
        const line = `lint ${v.file}:${v.line} ${v.rule}: ${v.message}${v.help ? ` — ${v.help}` : ''}`;
        if (!isAdvice(v.rule))
            log.warn(line);
        else
            log.info(line);
    }
    return report;
}
/** The refusal for violations that stop the run, naming each. */
function lintRefusal(report) {
    const stops = report.violations.filter((v) => v.stops);
    if (!stops.length)
        return undefined;
    return new errors/* OperationError */.OK(`Refused by the migration lint (squawk ${report.squawk}): ${stops
        .slice(0, 8)
        .map((v) => `${v.file} line ${v.line} ${v.rule}: ${v.message}`)
        .join('; ')}${stops.length > 8 ? `; and ${stops.length - 8} more` : ''}. Nothing was applied.`, 'change the migration as squawk advises (the summary lists each), or, when the risk is understood (a small table), put `-- squawk-ignore <rule>` on the line before the statement; lint: warn reports without stopping.');
}

;// CONCATENATED MODULE: ./shared/src/postgres/migrations/migrate.ts
/**
 * `mode: migrate | status | rollback` of action-db-migrate: read the folder (errors before any
 * connection), check the backup gate, connect, take the migration lock, compare folder and tracking
 * table, refuse what is unsafe, then apply (or roll back) one migration at a time.
 */











function refuseUnsafe(plan, allowOutOfOrder) {
    if (plan.changed.length) {
        throw new errors/* OperationError */.OK(`Refused: applied migration${plan.changed.length > 1 ? 's were' : ' was'} changed since: ${plan.changed
            .map((c) => `${c.file.file} (applied sha256 ${c.row.sha256.slice(0, 12)}…, file now ${c.file.sha256.slice(0, 12)}…)`)
            .join('; ')}. Nothing was applied.`, 'an applied migration must never be edited: restore the file as it was applied (git log) and put the change in a new migration.');
    }
    if (plan.outOfOrder.length && !allowOutOfOrder) {
        throw new errors/* OperationError */.OK(`Refused: pending migration${plan.outOfOrder.length > 1 ? 's' : ''} ${plan.outOfOrder.map((f) => f.file).join(', ')} numbered below the applied ${plan.currentVersion}. Nothing was applied.`, 'renumber it above the current version, or set allow-out-of-order: true if it is independent of the ones after it (a hotfix branch merged late).');
    }
}
const LOCK_RETRY_BACKOFF = { initialMs: 1000, factor: 2, maxMs: 30_000, jitter: 0.5 };
/**
 * A lock timeout means another session held the table for a moment (a long query, autovacuum): wait
 * with backoff and try again — a transactional migration whole (its transaction rolled back), one
 * outside a transaction from the statement that failed (the ones before it took effect).
 */
async function applyWithLockRetries(session, options, file, statements, deps) {
    let from = 0;
    for (let attempt = 1;; attempt++) {
        try {
            return await applyMigration(session, options.table, file, statements, options.timeouts, options.appliedBy, undefined, from, deps.log);
        }
        catch (error) {
            if (!(error instanceof MigrationFailed) ||
                error.code !== LOCK_NOT_AVAILABLE ||
                attempt > options.lockRetries)
                throw error;
            from = file.noTransaction ? error.completedStatements : 0;
            const delay = (0,backoff/* backoffDelay */.EY)(LOCK_RETRY_BACKOFF, attempt);
            deps.log.warn(`${file.file}: lock-timeout (${options.timeouts.lockTimeoutMs} ms) — another session held a lock it needs; attempt ${attempt + 1} of ${options.lockRetries + 1} in ${delay} ms, ${file.noTransaction ? `resuming at statement ${from + 1} of ${statements.length}` : 'rerunning it whole'}`);
            await (0,backoff/* sleepUnlessAborted */.bp)(delay, deps.signal);
            if (deps.signal?.aborted)
                throw deps.signal.reason;
        }
    }
}
async function migrate(options, deps) {
    const { log } = deps;
    const files = await (0,migrations_files.readMigrations)(options.dir, 'migrations-dir', options.confinement);
    const report = { mode: options.mode, applied: [], rolledBack: [], wouldRun: [] };
    const database = options.access.db.database;
    // A _rollback.sql typically drops what its migration made: gated on a backup like migrate.
    if ((options.mode === 'migrate' || options.mode === 'rollback') && !options.dryRun) {
        try {
            report.gate = await checkBackupGate(options.gate, database, Date.now(), options.mode);
        }
        catch (error) {
            if (!(error instanceof errors/* OperationError */.OK))
                throw error;
            report.failure = error;
            return report;
        }
        log.info(report.gate);
    }
    const endpoint = await (0,postgres_endpoint.openEndpoint)(options.access.db, options.access.via, log);
    let session;
    let locked = false;
    try {
        session = await postgres_session.DatabaseSession.open(options.access.db, endpoint.reach);
        const readOnly = options.mode === 'status' || options.dryRun;
        if (!readOnly) {
            await acquireMigrationLock(session, options.table, options.lockWaitMs, log);
            locked = true;
        }
        // The tracking table is created only once something will be recorded: a refusal changes nothing.
        let rows = await (0,tracking.readApplied)(session, options.table);
        if (options.baseline !== undefined && options.mode === 'migrate') {
            if (rows.length) {
                throw new errors/* ConfigurationError */.j1('baseline', `can only adopt a database whose tracking table is empty; ${rows.length} migration(s) are recorded already. Remove the input.`);
            }
            const adopted = files.filter((f) => (0,migrations_files/* compareVersions */.Zy)(f.version, options.baseline) <= 0);
            if (!adopted.some((f) => (0,migrations_files/* compareVersions */.Zy)(f.version, options.baseline) === 0))
                throw new errors/* ConfigurationError */.j1('baseline', `${options.baseline} is not a migration in ${options.dir}.`);
            if (options.dryRun)
                log.info(`[dry-run] would record ${adopted.map((f) => f.file).join(', ')} as applied (baseline), without running them`);
            else {
                await (0,tracking/* ensureTracking */.gC)(session, options.table);
                for (const f of adopted)
                    await (0,tracking/* recordApplied */.RC)(session, options.table, {
                        version: f.version,
                        name: f.name,
                        sha256: f.sha256,
                        applied_by: `baseline by ${options.appliedBy}`,
                        duration_ms: 0,
                    });
                log.info(`baseline: ${adopted.length} migration(s) up to ${options.baseline} recorded as applied, not run`);
                rows = await (0,tracking.readApplied)(session, options.table);
            }
        }
        const plan = planMigrations(files, rows);
        report.plan = plan;
        report.currentVersion = plan.currentVersion;
        for (const row of plan.missing)
            log.warn(`version ${row.version} (${row.name}) is applied in ${database} but has no file in ${options.dir}`);
        if (options.mode === 'status')
            return report;
        if (options.mode === 'rollback') {
            const newestFirst = [...plan.applied].sort((a, b) => (0,migrations_files/* compareVersions */.Zy)(b.row.version, a.row.version));
            // Versions no longer applied (rolled back already) are nothing to do.
            const asked = new Set((options.versions ?? [])
                .map((v) => BigInt(v).toString())
                .filter((v) => plan.applied.some((a) => BigInt(a.row.version).toString() === v)));
            const last = options.versions ? newestFirst.slice(0, asked.size) : newestFirst.slice(0, options.steps);
            if (options.versions) {
                const between = last.filter((a) => !asked.has(BigInt(a.row.version).toString()));
                if (between.length)
                    throw new errors/* OperationError */.OK(`Refused to roll back ${options.versions.join(', ')}: ${between.map((a) => a.file?.file ?? `version ${a.row.version}`).join(', ')} ${between.length > 1 ? 'were' : 'was'} applied after them and would stay, on a schema rolled back beneath ${between.length > 1 ? 'them' : 'it'}. Nothing was rolled back.`, 'roll the newer migrations back too (action-db-migrate mode: rollback, steps), or deploy a fix forward.');
            }
            const irreversible = last.filter((a) => a.file?.irreversible);
            if (irreversible.length)
                throw new errors/* OperationError */.OK(`Refused to roll back: ${irreversible.map((a) => a.file?.file).join(', ')} ${irreversible.length > 1 ? 'are' : 'is'} marked -- runbook:irreversible. Nothing was rolled back.`, 'restore the backup taken before it (action-db-backup mode: restore) if the data it changed must come back, or deploy a fix forward.');
            const without = last.filter((a) => !a.file?.rollback);
            if (without.length) {
                throw new errors/* OperationError */.OK(`Refused to roll back: ${without.map((a) => a.file?.file ?? `version ${a.row.version} (no file)`).join(', ')} ha${without.length > 1 ? 've' : 's'} no _rollback.sql. Nothing was rolled back.`, 'write the rollback file (NNN_name_rollback.sql) or restore the pre-migration backup (action-db-backup mode: restore).');
            }
            refuseUnsafe({ ...plan, outOfOrder: [] }, true);
            const statements = await (0,migrations_files/* statementsToRun */.dv)(last.map((a) => ({
                file: a.file?.rollback?.file ?? '',
                sql: a.file?.rollback?.sql ?? '',
                transactional: true,
                role: 'rollback',
            })), options.maxFileBytes);
            for (const a of last) {
                const file = a.file;
                if (options.dryRun) {
                    log.info(`[dry-run] would run ${file.rollback?.file} and remove version ${file.version}`);
                    report.wouldRun.push({
                        version: file.version,
                        file: file.rollback?.file ?? '',
                        sha256: '',
                        noTransaction: false,
                    });
                    continue;
                }
                const ms = await rollBackMigration(session, options.table, file, statements.get(file.rollback?.file ?? '') ?? [], options.timeouts);
                report.rolledBack.push({ version: file.version, file: file.rollback?.file ?? '', durationMs: ms });
                log.info(`rolled back ${file.file} with ${file.rollback?.file} in ${ms} ms`);
            }
            // The summary and outputs show the state after it: rolled-back migrations are pending again.
            if (!options.dryRun)
                report.plan = planMigrations(files, await (0,tracking.readApplied)(session, options.table));
            report.currentVersion = report.plan.currentVersion;
            return report;
        }
        refuseUnsafe(plan, options.allowOutOfOrder);
        // Every file about to run, read by PostgreSQL's parser before the first is applied.
        const statements = await (0,migrations_files/* pendingStatements */.sC)(plan.pending, options.maxFileBytes);
        if (plan.pending.length && options.lint !== 'off') {
            const server = await session.serverVersion();
            report.lint = await lintMigrations(plan.pending, {
                level: options.lint,
                dir: options.dir,
                pgVersion: /^\d+(\.\d+)?/.exec(server.version)?.[0] ?? `${server.major}.0`,
            }, log);
            const refusal = lintRefusal(report.lint);
            if (refusal)
                throw refusal;
        }
        if (options.dryRun) {
            report.wouldRun = plan.pending.map((f) => ({
                version: f.version,
                file: f.file,
                sha256: f.sha256,
                noTransaction: f.noTransaction,
            }));
            for (const f of report.wouldRun)
                log.info(`[dry-run] would apply ${f.file} (sha256 ${f.sha256.slice(0, 12)}…${f.noTransaction ? ', outside a transaction' : ''})`);
            if (!report.wouldRun.length)
                log.info(`[dry-run] nothing to apply; ${(0,database_url/* describeDatabase */.DZ)(options.access.db)} is at ${plan.currentVersion ?? 'no version'}`);
            return report;
        }
        if (plan.pending.length)
            await (0,tracking/* ensureTracking */.gC)(session, options.table);
        for (const file of plan.pending) {
            if (deps.signal?.aborted)
                throw deps.signal.reason;
            const applied = await applyWithLockRetries(session, options, file, statements.get(file.file) ?? [], deps);
            report.applied.push(applied);
            report.currentVersion = file.version;
            log.info(`applied ${file.file} in ${applied.durationMs} ms${file.noTransaction ? ' (outside a transaction, statement by statement)' : ''}`);
        }
        if (!plan.pending.length)
            log.info(`nothing to apply; ${(0,database_url/* describeDatabase */.DZ)(options.access.db)} is at ${plan.currentVersion ?? 'no version'}`);
        return report;
    }
    catch (error) {
        report.failure = (0,errors/* operationFailure */.yA)((0,postgres_session/* databaseFailure */.cA)(error, `The ${options.mode} run`));
        return report;
    }
    finally {
        if (session && locked)
            await releaseMigrationLock(session, options.table);
        await session?.close();
        await endpoint.close();
    }
}


/***/ }),

/***/ 9335:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   DatabaseSession: () => (/* binding */ DatabaseSession),
/* harmony export */   cA: () => (/* binding */ databaseFailure)
/* harmony export */ });
/* unused harmony exports tableKey, connectFailure */
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(3904);
/* harmony import */ var _database_url_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(7014);


function tableKey(table) {
    return `${table.schema}.${table.name}`;
}
/** Connection failures in words an engineer can act on; the password is never part of them. */
function connectFailure(db, error) {
    const code = error.code;
    const detail = error instanceof Error ? error.message : String(error);
    const hint = code === '28P01' || code === '28000'
        ? 'the user or password was refused: check the database-url secret (the value is not shown).'
        : code === '3D000'
            ? 'the database does not exist on that server: check the name in the URL.'
            : code === 'ECONNREFUSED' || code === 'ETIMEDOUT' || code === 'ENOTFOUND'
                ? 'the server is not reachable from here: when it listens only on the droplet, set ssh-host (and the SSH inputs) to go through it.'
                : 'check the server is up (systemctl status postgresql on the droplet) and the URL.';
    return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .OperationError */ .OK(`Could not connect to PostgreSQL ${(0,_database_url_js__WEBPACK_IMPORTED_MODULE_1__/* .describeDatabase */ .DZ)(db)}: ${detail}${code ? ` [${code}]` : ''}.`, hint, { cause: error });
}
/**
 * An error PostgreSQL itself reported (it carries a SQLSTATE and a severity) during a procedure: the
 * user's database said no — privileges, a missing schema — which is not a bug in this suite.
 */
function databaseFailure(error, what) {
    const e = error;
    if (!(error instanceof Error) || typeof e.code !== 'string' || typeof e.severity !== 'string')
        return error;
    return new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .OperationError */ .OK(`${what} failed: PostgreSQL said ${error.message} [${e.code}].`, e.code === '42501'
        ? 'the role in the URL lacks a privilege it needs here: grant it, or use the owner role.'
        : "read PostgreSQL's message; fix the cause in the database or the inputs and run again.", { cause: error });
}
class DatabaseSession {
    client;
    db;
    constructor(client, db) {
        this.client = client;
        this.db = db;
    }
    static async open(db, reach, database = db.database) {
        // Loaded on demand so input errors do not wait for it.
        const { default: pgModule } = await __webpack_require__.e(/* import() */ 849).then(__webpack_require__.bind(__webpack_require__, 6230));
        const client = new pgModule.Client((0,_database_url_js__WEBPACK_IMPORTED_MODULE_1__/* .clientConfig */ .yO)(db, reach, database));
        // A server that goes away between queries must fail the next query, not crash the process.
        client.on('error', () => undefined);
        try {
            await client.connect();
        }
        catch (error) {
            await client.end().catch(() => undefined);
            throw connectFailure({ ...db, database }, error);
        }
        return new DatabaseSession(client, { ...db, database });
    }
    async serverVersion() {
        const result = await this.client.query("SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS n");
        const row = result.rows[0];
        return { version: row.v.split(' ')[0], major: Math.floor(Number(row.n) / 10000) };
    }
    /**
     * Begins a read-only REPEATABLE READ transaction and exports its snapshot for pg_dump --snapshot.
     * The transaction must stay open until pg_dump has started (we keep it until the counts are done).
     */
    async exportSnapshot() {
        await this.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const result = await this.client.query('SELECT pg_export_snapshot() AS id');
        return result.rows[0].id;
    }
    async commit() {
        await this.client.query('COMMIT');
    }
    /**
     * The tables whose rows pg_dump writes: ordinary tables (partitions included, partitioned parents
     * hold no rows of their own) outside the system schemas, minus tables that belong to an extension.
     */
    async dataTables() {
        const result = await this.client.query(`SELECT n.nspname AS schema, c.relname AS name
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r'
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                           WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY 1, 2`);
        return result.rows;
    }
    /** Exact row counts (count(*) of each table itself, ONLY: a child table is counted as itself). */
    async countRows(tables, signal, 
    /** Beside a pg_dump, in its exporting transaction: one process per count, no parallel workers. */
    alongside = false) {
        const counts = {};
        // A parallel count takes two more cores for a moment: on a droplet's few, from pg_dump's COPY
        // (the backup's critical path) and from the app. Alone it still ends long before the dump does.
        if (alongside)
            await this.client.query('SET LOCAL max_parallel_workers_per_gather = 0');
        for (const table of tables) {
            if (signal?.aborted)
                break;
            let result;
            try {
                result = await this.client.query(`SELECT count(*) AS n FROM ONLY ${(0,_database_url_js__WEBPACK_IMPORTED_MODULE_1__/* .quoteIdent */ .v4)(table.schema)}.${(0,_database_url_js__WEBPACK_IMPORTED_MODULE_1__/* .quoteIdent */ .v4)(table.name)}`);
            }
            catch (error) {
                throw new _errors_js__WEBPACK_IMPORTED_MODULE_0__/* .OperationError */ .OK(`Counting the rows of ${tableKey(table)} in ${(0,_database_url_js__WEBPACK_IMPORTED_MODULE_1__/* .describeDatabase */ .DZ)(this.db)} failed: ${error instanceof Error ? error.message : String(error)}.`, 'the role in the URL must be able to read every table, as pg_dump must: GRANT SELECT on it, or back up as the owner.', { cause: error });
            }
            counts[tableKey(table)] = Number(result.rows[0].n);
        }
        return counts;
    }
    /** Extensions installed in this database. */
    async extensions() {
        const result = await this.client.query('SELECT extname AS name FROM pg_extension');
        return new Set(result.rows.map((r) => r.name));
    }
    async close() {
        await this.client.end().catch(() => undefined);
    }
}


/***/ })

};
