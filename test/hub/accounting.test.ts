// Issue P4, loss accounting: per device and in total, received = stored + duplicates + quarantined
// + busy, with frames in flight beside. Frames are sent by hand so every count is known exactly;
// the commit is held (lock on event_keys) so one frame stays in flight and the next is answered
// busy past LINTEL_MAX_INFLIGHT_BYTES. At the end the counts match what PostgreSQL holds.
import postgres from 'postgres';
import t from 'tap';
import { lockEventKeys } from '../helpers/locks.js';
import type { Terminal } from '../../bench/terminal.js';
import { balanced, createAccounting } from '../../hub/accounting.js';
import { client, createKey } from '../helpers/api.js';
import { provisionSite, startTestHub, type TestHub } from '../helpers/hub.js';

const TOTALS = ['received', 'stored', 'duplicate', 'quarantined', 'busy', 'hub_records_stored'] as const;

async function totals(th: TestHub) {
  const text = await (await fetch(`${th.httpUrl}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  const out: Record<string, number> = {};
  for (const k of TOTALS) out[k] = read(`lintel_ingest_events_${k}_total`);
  out.hub_records_stored = read('lintel_ingest_hub_records_stored_total');
  out.inflight_frames = read('lintel_ingest_inflight_frames');
  return out;
}

const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Sends one ev frame and resolves with the hub's answer to it (ack or busy). */
function send(term: Terminal, boot: number, events: Record<string, unknown>[]): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const on = (f: Record<string, unknown>) => {
      if (f.t === 'ack' || f.t === 'busy') { term.off('frame', on); resolve(f); }
    };
    term.on('frame', on);
    term.sendFrame({ t: 'ev', boot, events });
  });
}

t.test('every event received is stored, a duplicate, quarantined or answered busy; per device and in total', async (t) => {
  const th = await startTestHub(t, { LINTEL_MAX_INFLIGHT_BYTES: '65536', LINTEL_BUSY_RETRY_MS: '60000' });
  const a = await provisionSite(th);
  const b = await provisionSite(th);
  const viewerA = client(th, await createKey(th, a.org, 'viewer'));
  const viewerB = client(th, await createKey(th, b.org, 'viewer'));
  const accounting = async (c: typeof viewerA, id: string) => (await c.get(`/v1/devices/${id}/accounting`)).body;
  const sql = postgres(th.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end({ timeout: 1 }));

  const fresh = await accounting(viewerA, a.deviceId);
  t.match(fresh, { device_id: a.deviceId, received: 0, stored: 0, duplicates: 0, quarantined: 0, busy: 0, in_flight_frames: 0, balanced: true });
  t.ok(Date.parse(fresh.since) <= Date.now(), 'since: the start of this hub process');

  const term = th.terminal(a.token, { boot: 7, reconnect: false, autoFlush: false });
  t.teardown(() => term.close());
  await term.connect();
  const now = Date.now();
  const door = (seq: number, pad = 0) => ({ seq, ts: now, kind: 'door', door: 'D1', state: seq % 2 ? 'opened' : 'closed', data: { pad: 'x'.repeat(pad) } });

  const steps: { what: string; events: Record<string, unknown>[]; answer: 'ack' | 'busy' }[] = [
    { what: 'seqs 1-10, new', events: seqs(1, 10).map((s) => door(s)), answer: 'ack' },
    { what: 'seqs 5-12: 6 resent, 2 new', events: seqs(5, 12).map((s) => door(s)), answer: 'ack' },
    {
      what: 'three bad events', answer: 'ack', events: [
        { seq: 13, ts: now, kind: 'punch', cred: 'stranger-card', dir: 'in' }, // unknown_credential
        { seq: 14, ts: 1000, kind: 'punch', cred: 'stranger-card', dir: 'in' }, // implausible_time
        { seq: 0, ts: now, kind: 'door', door: 'D1', state: 'opened' }, // bad_seq: no seq to ack
      ],
    },
  ];
  for (const s of steps) t.equal((await send(term, 7, s.events)).t, s.answer, s.what);
  t.match(await accounting(viewerA, a.deviceId), { received: 21, stored: 12, duplicates: 6, quarantined: 3, busy: 0, in_flight_frames: 0, balanced: true });

  // Hold the commit: a frame of ~40 KB stays in flight, the next one is past the 64 KiB bound.
  const lock = await lockEventKeys(sql);
  const heldAck = term.next('ack', 30_000);
  term.sendFrame({ t: 'ev', boot: 7, events: seqs(15, 164).map((s) => door(s, 200)) });
  const busy = await send(term, 7, seqs(165, 314).map((s) => door(s, 200)));
  t.same(busy, { t: 'busy', boot: 7, seqs: seqs(165, 314), retry_ms: 60000 }, 'past the bound: busy, naming the frame\'s seqs');
  t.match(await accounting(viewerA, a.deviceId), { received: 171, stored: 12, duplicates: 6, quarantined: 3, busy: 150, in_flight_frames: 1, balanced: true },
    'the held frame is in flight and in no count; the busy one is counted');
  t.match(await totals(th), { received: 171, busy: 150, inflight_frames: 1 });
  await lock.release();
  t.same((await heldAck).seqs, seqs(15, 164), 'the held frame is acked once the store commits');

  for (const s of [
    { what: 'the busy frame resent', events: seqs(165, 314).map((s) => door(s, 200)) },
    { what: 'the quarantined seqs and seq 1 (twice) resent', events: [13, 14, 1, 1].map((s) => door(s)) },
  ]) t.equal((await send(term, 7, s.events)).t, 'ack', s.what);

  // Device B (another organization) sends 5 events and asks one auth: a hub decision record.
  const other = th.terminal(b.token, { boot: 1, reconnect: false, autoFlush: false });
  t.teardown(() => other.close());
  await other.connect();
  t.equal((await send(other, 1, seqs(1, 5).map((s) => door(s)))).t, 'ack');
  t.equal((await other.auth('stranger-card', 'D1')).ok, false);
  for (let i = 0; i < 200 && (await totals(th)).hub_records_stored !== 1; i++) await new Promise((r) => setTimeout(r, 25));

  // A: 10 + 8 + 3 + 150 busy + 150 + 150 + 4 received = 312 stored + 10 duplicates + 3 quarantined + 150 busy.
  const wantA = { device_id: a.deviceId, received: 475, stored: 312, duplicates: 10, quarantined: 3, busy: 150, in_flight_frames: 0, balanced: true };
  const wantB = { device_id: b.deviceId, received: 5, stored: 5, duplicates: 0, quarantined: 0, busy: 0, in_flight_frames: 0, balanced: true };
  t.match(await accounting(viewerA, a.deviceId), wantA, 'device A balances, with exact counts');
  t.match(await accounting(viewerB, b.deviceId), wantB, 'device B is counted apart; its hub decision record is not a terminal event');
  t.same(await totals(th), { received: 480, stored: 317, duplicate: 10, quarantined: 3, busy: 150, hub_records_stored: 1, inflight_frames: 0 },
    '/metrics totals balance: 480 = 317 + 10 + 3 + 150, the decision record counted apart');

  const db = async (device: string) => (await th.query<{ events: number; hub: number; quarantine: number }>(
    `SELECT (SELECT count(*)::int FROM events WHERE device_id = $1 AND source = 'terminal') AS events,
            (SELECT count(*)::int FROM events WHERE device_id = $1 AND source = 'hub') AS hub,
            (SELECT count(*)::int FROM quarantine WHERE device_id = $1) AS quarantine`, [device]))[0];
  t.same(await db(a.deviceId), { events: 312, hub: 0, quarantine: 3 }, 'PostgreSQL holds what A\'s ledger says');
  t.same(await db(b.deviceId), { events: 5, hub: 1, quarantine: 0 }, 'and what B\'s says');

  for (const [c, id, who] of [[viewerA, b.deviceId, 'A\'s key on B'], [viewerB, a.deviceId, 'B\'s key on A']] as const) {
    const res = await c.get(`/v1/devices/${id}/accounting`);
    t.equal(res.status, 404, `another organization's device is not found (${who})`);
  }
});

t.test('the ledger keeps known devices only and forgets devices the access state dropped', async (t) => {
  const known = new Set(['d1', 'd2']);
  const ledger = createAccounting((id) => known.has(id));
  const cases: { device: string; kept: boolean }[] = [{ device: 'd1', kept: true }, { device: 'd2', kept: true }, { device: 'stranger', kept: false }];
  for (const c of cases) {
    ledger.frameSubmitted(c.device);
    ledger.frameAnswered(c.device, { stored: 2, duplicates: 1, quarantined: 1, spooled: 4, busy: 0 });
    ledger.busyNow(c.device, 3);
    const tally = ledger.get(c.device);
    t.same(tally, c.kept ? { received: 11, stored: 2, duplicates: 1, quarantined: 1, spooled: 4, busy: 3, inFlightFrames: 0 } : { received: 0, stored: 0, duplicates: 0, quarantined: 0, spooled: 0, busy: 0, inFlightFrames: 0 }, c.device);
    t.ok(balanced(tally));
  }
  t.equal(ledger.size, 2, 'an unknown device leaves no entry');
  known.delete('d2');
  ledger.retain();
  t.equal(ledger.size, 1, 'a deleted device is dropped at the next reload');
  t.equal(ledger.get('d2').received, 0);
});
