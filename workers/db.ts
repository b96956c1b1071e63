// The worker side's PostgreSQL client. Only worker threads (and the CLI process) load this:
// the event loop never holds a database connection (STYLE.md).
import postgres from 'postgres';

export type Sql = postgres.Sql;

export interface DbOptions { databaseUrl: string; poolSize: number; applicationName: string }

export function connect(opts: DbOptions): Sql {
  return postgres(opts.databaseUrl, {
    max: opts.poolSize,
    idle_timeout: 0,
    connect_timeout: 5,
    onnotice: () => {},
    connection: { application_name: opts.applicationName },
    // bigint columns (seq, boot) come back as numbers: every value Lintel stores fits 2^53.
    types: { int8: { to: 20, from: [20], serialize: (n: number) => String(n), parse: (s: string) => Number(s) } },
  });
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
