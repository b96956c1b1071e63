// A PostgreSQL the test owns (not the hub's embedded one), so the test can take it away and bring
// it back while a hub runs on it: DATABASE_URL points the hub at it.
import { startEmbeddedPostgres, type EmbeddedDb } from '../../hub/embedded-postgres.js';
import { createLogger } from '../../hub/log.js';
import { freePort, tempDataDir } from './hub.js';

export interface OwnPostgres { url: string; dir: string; port: number; up: boolean; stop(): Promise<void>; start(): Promise<void> }

export async function startOwnPostgres(opts: { dir?: string; port?: number } = {}): Promise<OwnPostgres> {
  const dir = opts.dir ?? (await tempDataDir());
  const port = opts.port ?? (await freePort());
  const log = createLogger(process.env.LINTEL_TEST_LOG ?? 'silent');
  let db: EmbeddedDb | undefined = await startEmbeddedPostgres(dir, port, log);
  const own: OwnPostgres = {
    url: db.url, dir, port, up: true,
    async stop() {
      const d = db;
      db = undefined;
      own.up = false;
      await d?.stop();
    },
    async start() {
      db ??= await startEmbeddedPostgres(dir, port, log);
      own.up = true;
    },
  };
  return own;
}
