// `npm run simulate`: many terminals from one process against a running hub, the shift-change
// burst of bench/burst.ts. Prints one JSON line on stdout and a short summary on stderr.
// It reads the hub's LINTEL_* environment (or DATABASE_URL) to provision and to read rows back.
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { createAdminClient, type AdminClient } from '../hub/admin-client.js';
import { loadConfig } from '../hub/config.js';
import type { Encoding } from '../protocol/frames.js';
import { describe, runBurst, type BurstDevice } from './burst.js';

const USAGE = `usage: npm run simulate -- [--hub ws://127.0.0.1:$LINTEL_PORT/v1/terminal] [--terminals 500] [--events 20]
  [--frame F] [--auth-terminals M] [--auth-rate 5] [--encoding msgpack|json] [--boot B]
  [--provision] [--org sim] [--site sim] [--people P] [--fleet fleet.json] [--timeout-s 120] [--no-readback]
--provision creates (or re-keys) devices sim-0..N-1 and people with credentials in one transaction;
--fleet saves that fleet (with --provision) or loads it (without), so a run can skip provisioning.`;

interface Fleet { devices: BurstDevice[]; creds: string[] }

function int(name: string, v: string | undefined, def: number, min = 0): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
  return n;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      hub: { type: 'string', default: `ws://127.0.0.1:${process.env.LINTEL_PORT || 8080}/v1/terminal` }, // like the hub: LINTEL_PORT
      terminals: { type: 'string' }, events: { type: 'string' }, frame: { type: 'string' },
      'auth-terminals': { type: 'string' }, 'auth-rate': { type: 'string' }, encoding: { type: 'string', default: 'msgpack' },
      boot: { type: 'string' }, provision: { type: 'boolean', default: false }, org: { type: 'string', default: 'sim' },
      site: { type: 'string', default: 'sim' }, people: { type: 'string' }, fleet: { type: 'string' },
      'timeout-s': { type: 'string' }, 'no-readback': { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) { console.error(USAGE); return 0; }
  const terminals = int('terminals', values.terminals, 500, 1);
  const events = int('events', values.events, 20, 1);
  const frame = values.frame === undefined ? undefined : int('frame', values.frame, events, 1);
  const authTerminals = int('auth-terminals', values['auth-terminals'], Math.floor(terminals / 10));
  const authRate = Number(values['auth-rate'] ?? 5);
  if (!(authRate > 0)) throw new Error('--auth-rate must be > 0');
  if (values.encoding !== 'msgpack' && values.encoding !== 'json') throw new Error('--encoding is msgpack or json');
  const boot = values.boot === undefined ? undefined : int('boot', values.boot, 1, 0);
  if (boot !== undefined && boot > 0xffffffff) throw new Error('--boot is a uint32');
  const people = int('people', values.people, terminals * events, 1);

  // The database is the hub's: never let the admin client start an embedded one of its own here.
  let admin: AdminClient | undefined;
  const needDb = values.provision || !values['no-readback'];
  if (needDb) {
    const config = loadConfig();
    if (!config.databaseUrl && !(await portOpen(config.pgPort))) {
      throw new Error(`no database at 127.0.0.1:${config.pgPort}: run with the hub's LINTEL_PG_PORT and LINTEL_DATA_DIR, or DATABASE_URL (or --no-readback with --fleet)`);
    }
    admin = await createAdminClient(config);
  }
  try {
    let fleet: Fleet;
    if (values.provision) {
      const started = performance.now();
      const names = Array.from({ length: terminals }, (_, i) => `sim-${i}`);
      const persons = Array.from({ length: people }, (_, i) => ({ externalId: `sim-p${i}`, creds: [`sim-c${i}`] }));
      const r = await admin!.run<{ devices: { id: string; name: string; token: string }[] }>('bulkProvision', {
        org: values.org, site: values.site, tz: 'UTC', doors: ['D1'], devices: names, people: persons, group: 'all',
      });
      const behind = await admin!.settle(30_000);
      if (behind.length) console.error(`warning: hubs not yet on the new state: ${behind.join(', ')}`);
      fleet = { devices: r.devices.map((d) => ({ id: d.id, token: d.token })), creds: persons.map((p) => p.creds[0]!) };
      console.error(`provisioned ${fleet.devices.length} devices and ${people} people in ${Math.round(performance.now() - started)} ms`);
      if (values.fleet) await writeFile(values.fleet, JSON.stringify(fleet), { mode: 0o600 }); // holds device tokens
    } else if (values.fleet) {
      fleet = JSON.parse(await readFile(values.fleet, 'utf8')) as Fleet;
      if (fleet.devices.length < terminals) throw new Error(`${values.fleet} has ${fleet.devices.length} devices; --terminals is ${terminals}`);
      fleet.devices = fleet.devices.slice(0, terminals);
    } else {
      throw new Error('give --provision, or --fleet FILE saved by an earlier --provision run');
    }

    const summary = await runBurst({
      url: values.hub!, devices: fleet.devices, creds: fleet.creds, events, frame, authTerminals, authRate,
      encoding: values.encoding as Encoding, boot, timeoutMs: int('timeout-s', values['timeout-s'], 120, 1) * 1000,
      query: admin && !values['no-readback'] ? (text, params) => admin!.run('query', { text, params }) : undefined,
    });
    console.log(JSON.stringify({ bench: 'burst', hub: values.hub, ...summary }));
    console.error(describe(summary));
    const lost = summary.acked !== summary.punches || (summary.db && (summary.db.duplicates !== 0 || summary.db.distinct !== summary.punches));
    return lost ? 1 : 0;
  } finally {
    await admin?.close();
  }
}

main().then((code) => { process.exitCode = code; }, (err: Error) => {
  console.error(`simulate: ${err.message}`);
  process.exitCode = 2;
});
