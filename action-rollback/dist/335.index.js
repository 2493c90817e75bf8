export const id = 335;
export const ids = [335];
export const modules = {

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
