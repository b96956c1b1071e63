// The worker side's PostgreSQL client. Only worker threads (and the CLI process) load this:
// the event loop never holds a database connection (STYLE.md).
import net from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';

export type Sql = postgres.Sql;

const CONNECT_TIMEOUT_S = 5;

export interface DbOptions { databaseUrl: string; poolSize: number; applicationName: string }

export function connect(opts: DbOptions): Sql {
  return postgres(opts.databaseUrl, {
    max: opts.poolSize,
    idle_timeout: 0,
    connect_timeout: CONNECT_TIMEOUT_S,
    ...({ socket: noDelaySocket } as object), // a documented option its type definitions lack
    onnotice: () => {},
    connection: { application_name: opts.applicationName },
    // bigint columns (seq, boot) come back as numbers: every value Lintel stores fits 2^53.
    types: { int8: { to: 20, from: [20], serialize: (n: number) => String(n), parse: (s: string) => Number(s) } },
  });
}

/**
 * postgres.js opens its sockets with Nagle's algorithm on: a COPY's last data message and its
 * CopyDone then wait for the server's delayed ACK (about 40 ms per COPY on Linux). Lintel's
 * writes are whole protocol messages, so it connects the socket itself with TCP_NODELAY.
 */
export function noDelaySocket(o: { host: string[]; port: number[]; path?: string | false }): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = o.path ? net.connect({ path: o.path }) : net.connect({ host: o.host[0]!, port: o.port[0]!, noDelay: true });
    // postgres.js's connect timeout does not cover a socket it is handed: the same 5 s here.
    s.setTimeout(CONNECT_TIMEOUT_S * 1000, () => s.destroy(Object.assign(new Error(`connect to ${o.host[0]}:${o.port[0]} timed out`), { code: 'CONNECT_TIMEOUT' })));
    s.once('connect', () => { s.setTimeout(0); s.off('error', reject); resolve(s); });
    s.once('error', reject);
  });
}

/**
 * COPY ... FROM STDIN of `text` (COPY text format), settled whether PostgreSQL takes the rows or
 * refuses them. postgres.js 3.4.9 never settles the writable when the server refuses a COPY once
 * its data is sent (porsager/postgres#1173; the fix, #1183, is not released): the error reaches
 * only the query's reject(), a no-op by then (the query resolved with the stream), so the
 * transaction would wait forever and the worker with it. Hooking that reject surfaces it.
 */
export async function copyFrom(sql: postgres.Sql | postgres.TransactionSql, statement: string, text: string): Promise<void> {
  const query = sql.unsafe(statement) as unknown as postgres.PendingQuery<postgres.Row[]> & { reject(err: unknown): void };
  const reject = query.reject;
  const refused = new Promise<never>((_, fail) => {
    query.reject = (err) => { fail(err); reject(err); };
  });
  refused.catch(() => {}); // refused before the stream opened: writable() rejects with the same error
  const sink = await query.writable();
  await Promise.race([pipeline(Readable.from([text]), sink), refused]);
}

/** PostgreSQL error classes that mean "the store is not there right now", not "this data is bad". */
export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string; errno?: string } | undefined;
  const code = e?.code ?? '';
  return (
    code.startsWith('08') || // connection exceptions
    code === '57P01' || code === '57P02' || code === '57P03' || // admin shutdown, crash shutdown, cannot connect now
    code === '53300' || // too many connections
    code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'EPIPE' ||
    code === 'CONNECT_TIMEOUT' || code === 'CONNECTION_CLOSED' || code === 'CONNECTION_ENDED' ||
    code === 'CONNECTION_DESTROYED'
  );
}
