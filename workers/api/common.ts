// Shared by the operator API's worker modules: the connection, the audit log, keyset pages,
// and errors that cross the thread boundary as data.
import { workerData } from 'piscina';
import { LintelError, type ErrorCode } from '../../protocol/errors.js';
import type postgres from 'postgres';
import { connect, type Sql } from '../db.js';

interface ApiSettings { databaseUrl: string; credentialKey: string }
export const settings = workerData as ApiSettings;
let sql: Sql | undefined;
export const db = () => (sql ??= connect({ databaseUrl: settings.databaseUrl, poolSize: 4, applicationName: 'lintel-api' }));
export async function closeDb() {
  const old = sql;
  sql = undefined;
  await old?.end({ timeout: 2 });
}

export type Tx = postgres.TransactionSql;

/** Who did it, in which organization: every operation is scoped by orgId in its SQL. */
export interface Scope { orgId: string; actor: string }

export function notFound(what: string): never {
  throw new LintelError('LINTEL_ERR_API_NOT_FOUND', what);
}

export async function one<T>(rows: Promise<T[]> | T[], what: string): Promise<T> {
  const [row] = await rows;
  if (!row) notFound(what);
  return row;
}

/** Unique violations become 409 with the API's code; other errors pass through. */
export async function unique<T>(p: Promise<T>, what: string): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new LintelError('LINTEL_ERR_API_CONFLICT', what);
    if ((err as { code?: string }).code === '23503') throw new LintelError('LINTEL_ERR_API_NOT_FOUND', 'a referenced resource does not exist');
    throw err;
  }
}

export async function audit(tx: Tx, scope: Scope, action: string, entity: string, entityId: string | null, before: unknown, after: unknown): Promise<void> {
  await tx`INSERT INTO audit_log (org_id, actor, action, entity, entity_id, before, after)
           VALUES (${scope.orgId}, ${scope.actor}, ${action}, ${entity}, ${entityId}, ${tx.json((before ?? null) as never)}, ${tx.json((after ?? null) as never)})`;
}

/** The state version after this transaction's changes: the hub waits for it before answering. */
export async function stateVersion(tx: Tx): Promise<number> {
  const [r] = await tx`SELECT v FROM state_version`;
  return Number(r?.v ?? 0);
}

export interface Page<T> { items: T[]; next: string | null }

export const encodeCursor = (v: unknown[]) => Buffer.from(JSON.stringify(v)).toString('base64url');
export function decodeCursor(c: string | undefined, arity: number): unknown[] | null {
  if (!c) return null;
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === arity) return v;
  } catch {
    // fall through
  }
  throw Object.assign(new LintelError('LINTEL_ERR_API_VALIDATION', 'cursor is not one this API issued'), { fields: [{ field: 'query.cursor', problem: 'invalid cursor' }] });
}

/** Takes limit+1 rows to know whether a next page exists. */
export function page<T>(rows: T[], limit: number, cursorOf: (last: T) => unknown[]): Page<T> {
  const items = rows.slice(0, limit);
  return { items, next: rows.length > limit ? encodeCursor(cursorOf(items[items.length - 1]!)) : null };
}

export type Reply = { ok: true; value: unknown } | { ok: false; code: ErrorCode | string; message: string; fields?: unknown };
