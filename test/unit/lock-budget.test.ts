import { describe, expect, it } from '@jest/globals';
import type { OperationError } from '../../shared/src/errors.js';
import { checkLockBudget, relationsInArchiveList } from '../../shared/src/postgres/lock-budget.js';
import { restoreFailureAdvice } from '../../shared/src/postgres/restore.js';

// Lines as `pg_restore --list` prints them (PostgreSQL 15): id; catalog oid, object oid, type, schema, name, owner.
const LIST = `;
; Archive created at 2026-12-03 05:32:14 UTC
;
215; 1259 16386 TABLE public t0 postgres
214; 1259 16385 SEQUENCE public t0_id_seq postgres
3336; 0 0 SEQUENCE OWNED BY public t0_id_seq postgres
3181; 2604 16389 DEFAULT public t0 id postgres
3330; 0 16386 TABLE DATA public t0 postgres
3338; 0 0 SEQUENCE SET public t0_id_seq postgres
3185; 2606 16391 CONSTRAINT public t0 t0_pkey postgres
3186; 2606 16392 FK CONSTRAINT public t1 t1_t0_fkey postgres
3187; 1259 16393 INDEX public t0_name_idx postgres
3188; 1259 16394 MATERIALIZED VIEW public m postgres
3189; 0 16394 MATERIALIZED VIEW DATA public m postgres
`;

describe('relationsInArchiveList', () => {
  it('counts each table and materialized view with its TOAST table and index, sequences, indexes and key constraints', () => {
    expect(relationsInArchiveList(LIST)).toBe(3 + 1 + 1 + 1 + 3);
  });
});

describe('checkLockBudget', () => {
  const table = { capacity: 7808, maxLocksPerTransaction: 64, slots: 122 };
  const what = { file: 'b.dump', database: 'bunty' };
  it('lets a restore within the nominal size through without a word', () => {
    expect(checkLockBudget({ backup: 2500, target: 4500 }, table, what)).toEqual({ needed: 7000 });
  });
  it('warns of one the spare shared memory may or may not hold', () => {
    expect(checkLockBudget({ backup: 10000, target: 0 }, table, what).warning).toMatch(
      /may run out of locks.*If it fails, it rolls back/,
    );
  });
  it('refuses one past it, with the setting that would hold it', () => {
    const refusal = (() => {
      try {
        checkLockBudget({ backup: 10000, target: 18000 }, table, what);
      } catch (error) {
        return error as OperationError;
      }
      throw new Error('not refused');
    })();
    expect(refusal.message).toMatch(
      /^Refused to restore b\.dump: .*about 28000 locks.*Nothing was changed\.$/,
    );
    expect(refusal.hint).toMatch(/^raise max_locks_per_transaction to 320 /);
  });
});

describe('restoreFailureAdvice', () => {
  it('speaks of plain dumps only for a plain dump', () => {
    const exists = 'ERROR:  relation "users" already exists';
    expect(restoreFailureAdvice(exists, 'plain-gzip')).toMatch(/plain dump without DROP/);
    expect(restoreFailureAdvice(exists, 'custom')).not.toMatch(/plain/);
  });
  it('names what depends on the replaced objects', () => {
    const message =
      'ERROR:  cannot drop constraint users_pkey on table public.users because other objects depend on it\nDETAIL:  constraint audit_fkey on table public.audit depends on index public.users_pkey\nHINT: …';
    expect(restoreFailureAdvice(message, 'custom')).toMatch(
      /not in the backup depend on objects it replaces \(constraint audit_fkey on table public\.audit depends on index public\.users_pkey\)/,
    );
  });
  it('sends a lock table overrun to max_locks_per_transaction', () => {
    expect(restoreFailureAdvice('ERROR:  out of shared memory', 'directory')).toMatch(
      /max_locks_per_transaction/,
    );
  });
});
