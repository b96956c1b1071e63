// Query plans of the hot statements (migrations/README.md quotes them): EXPLAIN ANALYZE on a hub
// of its own, loaded with SQL (not through terminals: the plans depend on the data, not on how it
// arrived) and ANALYZEd. Prints one JSON line { events, ..., plans: { name: text } } on stdout.
//   node --import tsx bench/explain.ts [--events 50000] [--days 90]
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { createAdminClient } from '../hub/admin-client.js';
import { loadConfig, PROJECT_ROOT } from '../hub/config.js';
import { startHub } from '../hub/main.js';

const { values } = parseArgs({ options: { events: { type: 'string', default: '50000' }, days: { type: 'string', default: '90' } } });
const EVENTS = Number(values.events);
const DAYS = Number(values.days);

// The statements as the worker runs them, read from its source so this cannot drift.
const ingestSource = readFileSync(path.join(PROJECT_ROOT, 'workers', 'ingest.ts'), 'utf8');
const constant = (name: string) => {
  const m = new RegExp(`const ${name} = \`([\\s\\S]*?)\`;`).exec(ingestSource);
  if (!m) throw new Error(`workers/ingest.ts has no ${name}`);
  return m[1]!;
};
const RESOLVE_AND_STORE = constant('RESOLVE_AND_STORE');
const CREATE_STAGING = constant('CREATE_STAGING');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

class Rollback extends Error {}

async function main() {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lintel-bench-explain-'));
  await chmod(dataDir, 0o755);
  const config = loadConfig({
    LINTEL_HOST: '127.0.0.1', LINTEL_PORT: '0', LINTEL_DATA_DIR: dataDir, LINTEL_PG_PORT: String(await freePort()),
    LINTEL_LOG_LEVEL: 'warn', LINTEL_HUB_ID: `bench-explain-${process.pid}`,
  });
  const hub = await startHub(config);
  const admin = await createAdminClient({ ...config, databaseUrl: hub.databaseUrl });
  const sql = postgres(hub.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    // Two organizations (80% / 20% of the events), 20 devices and 500 people each.
    const orgs = [];
    for (const name of ['bench-a', 'bench-b']) {
      orgs.push(await admin.run<{ orgId: string; siteId: string; doorIds: string[]; devices: { id: string }[] }>('bulkProvision', {
        org: name, site: 'site', tz: 'UTC', doors: ['D1', 'D2', 'D3', 'D4', 'D5'], group: 'staff',
        devices: Array.from({ length: 20 }, (_, i) => `r${i}`),
        people: Array.from({ length: 500 }, (_, i) => ({ externalId: `P${i}`, creds: [`${name}-card-${i}`] })),
      }));
    }
    // Partitions for the whole history, as a hub running that long would have made them ahead.
    await sql`SELECT lintel_ensure_partitions((now() - ${DAYS + 31} * interval '1 day')::date, ${Math.ceil(DAYS / 28) + 2})`;
    const started = Date.now();
    for (const [i, o] of orgs.entries()) {
      const n = Math.round(EVENTS * (i === 0 ? 0.8 : 0.2));
      await sql`
        WITH p AS (SELECT array_agg(id ORDER BY external_id) AS ids FROM people WHERE org_id = ${o.orgId})
        INSERT INTO events (ts, org_id, site_id, device_id, source, boot, seq, kind, person_id, door_id, dir, granted, reason)
        SELECT now() - (g * (${DAYS * 86400}::float / ${n})) * interval '1 second', ${o.orgId}, ${o.siteId},
               (${o.devices.map((d) => d.id)}::uuid[])[1 + g % 20], 'terminal', 1, 1 + g / 20,
               CASE WHEN g % 10 < 7 THEN 'punch' ELSE 'access' END,
               p.ids[1 + (g * 7919) % 500],
               CASE WHEN g % 10 < 7 THEN NULL ELSE (${o.doorIds}::uuid[])[1 + g % 5] END,
               CASE WHEN g % 10 < 7 THEN (CASE WHEN g % 2 = 0 THEN 'in' ELSE 'out' END) END,
               CASE WHEN g % 10 < 7 THEN NULL ELSE true END,
               CASE WHEN g % 10 < 7 THEN NULL ELSE 'granted' END
        FROM generate_series(0, ${n - 1}) g, p`;
      await sql`INSERT INTO event_keys (device_id, source, boot, seq, outcome)
                SELECT device_id, 't', boot, seq, 's' FROM events WHERE org_id = ${o.orgId}`;
    }
    const loadMs = Date.now() - started;
    await sql`ANALYZE`;

    const a = orgs[0]!;
    const explain = async (text: string, params: unknown[] = []) =>
      (await sql.unsafe(`EXPLAIN (ANALYZE, BUFFERS OFF, TIMING OFF, SUMMARY ON) ${text}`, params as never[])).map((r) => r['QUERY PLAN']).join('\n');
    const plans: Record<string, string> = {};

    // Ingest: one batch of 200 punches of known cards from 20 terminals, staged as the worker stages it.
    try {
      await sql.begin(async (tx) => {
        await tx.unsafe(CREATE_STAGING);
        await tx`INSERT INTO staging_events (ord, org_id, site_id, device_id, source, boot, seq, ts, kind, cred_hash, dir)
          SELECT row_number() OVER () - 1, c.org_id, ${a.siteId}, (${a.devices.map((d) => d.id)}::uuid[])[1 + (row_number() OVER ())::int % 20],
                 't', 2, row_number() OVER (), now(), 'punch', c.cred_hash, 'in'
          FROM credentials c WHERE c.org_id = ${a.orgId} LIMIT 200`;
        await tx`ANALYZE staging_events`;
        plans.ingest_resolve_and_store = (await tx.unsafe(`EXPLAIN (ANALYZE, BUFFERS OFF, TIMING OFF, SUMMARY ON) ${RESOLVE_AND_STORE}`)).map((r) => r['QUERY PLAN']).join('\n');
        throw new Rollback();
      });
    } catch (err) {
      if (!(err instanceof Rollback)) throw err;
    }
    const device = a.devices[3]!.id;
    plans.last_seq = await explain(`SELECT coalesce(max(seq), 0) AS s FROM event_keys WHERE device_id = $1 AND source = 't' AND boot = $2`, [device, 1]);
    // GET /v1/events, first page and a later page (workers/api/events.ts listEvents), then one device's.
    const EVENT = 'id, ts, received_at, site_id, device_id, source, boot, seq, kind, person_id, door_id, dir, granted, reason, state, code, detail, rule, data';
    plans.events_page_first = await explain(`SELECT ${EVENT}, (extract(epoch FROM ts) * 1000000)::bigint AS cur_us FROM events
      WHERE org_id = $1 ORDER BY ts DESC, id DESC LIMIT $2`, [a.orgId, 51]);
    const [mid] = await sql`SELECT (extract(epoch FROM ts) * 1000000)::bigint AS us, id FROM events WHERE org_id = ${a.orgId} ORDER BY ts DESC, id DESC OFFSET 20000 LIMIT 1`;
    plans.events_page_later = await explain(`SELECT ${EVENT}, (extract(epoch FROM ts) * 1000000)::bigint AS cur_us FROM events
      WHERE org_id = $1 AND ts <= (timestamptz 'epoch' + $2::bigint * interval '1 microsecond')
        AND (ts, id) < ((timestamptz 'epoch' + $2::bigint * interval '1 microsecond'), $3) ORDER BY ts DESC, id DESC LIMIT $4`,
    [a.orgId, mid!.us, mid!.id, 51]);
    plans.events_page_device = await explain(`SELECT ${EVENT}, (extract(epoch FROM ts) * 1000000)::bigint AS cur_us FROM events
      WHERE org_id = $1 AND device_id = $2 ORDER BY ts DESC, id DESC LIMIT $3`, [a.orgId, device, 51]);
    // Timesheets (workers/api/timesheets.ts punchesOf): one person, a month plus the margins.
    const [person] = await sql`SELECT id FROM people WHERE org_id = ${a.orgId} AND external_id = 'P7'`;
    const punches = `SELECT id::text, ts, coalesce(dir, 'unknown') AS dir, device_id, boot, seq, received_at, site_id, person_id
      FROM events WHERE org_id = $1 AND kind = 'punch' AND source = 'terminal' AND ts >= $2 AND ts < $3
        AND ($4::uuid[] IS NULL OR person_id = ANY($4::uuid[])) AND ($5::uuid IS NULL OR site_id = $5::uuid) AND person_id IS NOT NULL
      ORDER BY ts`;
    const lo = new Date(Date.now() - 41 * 86_400_000).toISOString();
    const hi = new Date(Date.now() - 8 * 86_400_000).toISOString();
    plans.timesheet_person = await explain(punches, [a.orgId, lo, hi, [person!.id], null]);
    plans.timesheet_site = await explain(punches, [a.orgId, lo, hi, null, a.siteId]);
    // Retention: the loose index scan that lists the organizations in a partition.
    const [part] = await sql`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'events'::regclass AND c.relname <> 'events_default' ORDER BY c.relname DESC OFFSET 4 LIMIT 1`;
    const t = `"${part!.relname}"`;
    plans.retention_orgs_in_partition = await explain(`WITH RECURSIVE o(org_id) AS (
      (SELECT org_id FROM ${t} ORDER BY org_id LIMIT 1)
      UNION ALL
      SELECT (SELECT x.org_id FROM ${t} x WHERE x.org_id > o.org_id ORDER BY x.org_id LIMIT 1) FROM o WHERE o.org_id IS NOT NULL)
    SELECT org_id FROM o WHERE org_id IS NOT NULL`);

    const [counts] = await sql`SELECT (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM event_keys)::int AS keys,
      (SELECT count(*) FROM people)::int AS people, (SELECT count(*) FROM credentials)::int AS credentials,
      (SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass)::int AS partitions, current_setting('server_version') AS pg`;
    for (const [name, plan] of Object.entries(plans)) process.stderr.write(`\n== ${name}\n${plan}\n`);
    console.log(JSON.stringify({ ...counts, days: DAYS, loadMs, plans }));
  } finally {
    await sql.end({ timeout: 2 });
    await admin.close();
    await hub.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
