// Starts a real hub for one test file: its own embedded PostgreSQL in a temporary folder (so
// each file owns its data), port 0, and an admin client on the same database. Closed in teardown.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createAdminClient, type AdminClient } from '../../hub/admin-client.js';
import { loadConfig } from '../../hub/config.js';
import { startHub, type Hub } from '../../hub/main.js';
import { Terminal, type TerminalOptions } from '../../bench/terminal.js';

export interface TapLike { teardown(fn: () => unknown): void }

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export async function tempDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lintel-test-'));
  await chmod(dir, 0o755); // the postgres user must reach it when tests run as root
  return dir;
}

export interface TestHub {
  hub: Hub;
  admin: AdminClient;
  url: string;
  httpUrl: string;
  env: Record<string, string>;
  dataDir: string;
  /** A terminal for `token`, not yet connected. */
  terminal(token: string, opts?: Partial<TerminalOptions>): Terminal;
  /** Runs SQL on the hub's database (through the admin worker). */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

export async function startTestHub(t: TapLike, env: Record<string, string> = {}, keep?: { dataDir: string; pgPort: string }): Promise<TestHub> {
  const dataDir = keep?.dataDir ?? (await tempDataDir());
  const fullEnv = {
    LINTEL_HOST: '127.0.0.1', LINTEL_PORT: '0', LINTEL_DATA_DIR: dataDir, LINTEL_PG_PORT: keep?.pgPort ?? String(await freePort()),
    LINTEL_LOG_LEVEL: process.env.LINTEL_TEST_LOG ?? 'silent', LINTEL_HUB_ID: `test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`, ...env,
  };
  const config = loadConfig(fullEnv);
  const hub = await startHub(config);
  const admin = await createAdminClient({ ...config, databaseUrl: hub.databaseUrl });
  const terminals: Terminal[] = [];
  t.teardown(async () => {
    await Promise.all(terminals.map((x) => x.close().catch(() => {})));
    await admin.close();
    await hub.close();
    if (!keep) await rm(dataDir, { recursive: true, force: true });
  });
  const url = `ws://127.0.0.1:${hub.port}/v1/terminal`;
  return {
    hub, admin, url, dataDir, httpUrl: `http://127.0.0.1:${hub.port}`,
    env: { ...fullEnv, DATABASE_URL: hub.databaseUrl },
    terminal(token, opts = {}) {
      const term = new Terminal({ url, token, reconnect: false, ...opts });
      terminals.push(term);
      return term;
    },
    query: (text, params) => admin.run('query', { text, params }),
  };
}

export interface Provisioned { org: string; site: string; siteId: string; door: string; doorId: string; device: string; deviceId: string; token: string }

/** An organization, a site in `tz`, one door and one device driving it. Names are unique per call. */
export async function provisionSite(th: TestHub, opts: { tz?: string; name?: string } = {}): Promise<Provisioned> {
  const name = opts.name ?? `org-${Math.random().toString(36).slice(2, 8)}`;
  const { admin } = th;
  await admin.run('createOrg', { name });
  const site = await admin.run<{ id: string }>('createSite', { org: name, name: 'site', tz: opts.tz ?? 'UTC' });
  const door = await admin.run<{ id: string }>('createDoor', { org: name, site: 'site', code: 'D1' });
  const device = await admin.run<{ id: string; token: string }>('createDevice', { org: name, site: 'site', name: 'reader', doors: ['D1'] });
  await settle(th);
  return { org: name, site: 'site', siteId: site.id, door: 'D1', doorId: door.id, device: 'reader', deviceId: device.id, token: device.token };
}

/** Waits until the hub decides on every change made so far. */
export async function settle(th: TestHub): Promise<void> {
  const v = await th.admin.run<number>('stateVersion');
  await th.hub.waitForState(v);
}
