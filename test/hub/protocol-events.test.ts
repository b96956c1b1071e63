// LTP/1 conformance, events (PROTOCOL sections 3, 4 and 7): acks, exactly-once storage by
// (device, boot, seq), quarantine codes, attribution to the authenticated device, last_seq, ping.
import t from 'tap';
import type { Terminal } from '../../bench/terminal.js';
import { encodedSize } from '../../protocol/codec.js';
import { MAX_EVENT_DATA_BYTES, type AckFrame } from '../../protocol/frames.js';
import { createAccessEngine } from '../../hub/access.js';
import { provisionSite, settle, startTestHub, type TestHub } from '../helpers/hub.js';

const th = await startTestHub(t);
const p = await provisionSite(th);
await th.admin.run('createPerson', { org: p.org, externalId: 'E-1' });
await th.admin.run('addCredential', { org: p.org, person: 'E-1', cred: 'CARD-1' });
await settle(th);

let devices = 0;
/** A fresh device driving D1, so each test counts only its own rows. */
async function device(h: TestHub = th): Promise<{ id: string; token: string }> {
  const d = await h.admin.run<{ id: string; token: string }>('createDevice', { org: p.org, site: 'site', name: `dev-${++devices}`, doors: ['D1'] });
  await settle(h);
  return d;
}

/** Sends one ev frame as given (events keep the seqs written here) and waits for its answer. */
async function sendEv(term: Terminal, boot: number, events: Record<string, unknown>[], extra: Record<string, unknown> = {}): Promise<AckFrame> {
  const answer = term.next('ack');
  term.sendFrame({ t: 'ev', boot, events, ...extra });
  return (await answer) as unknown as AckFrame;
}

async function count(table: 'events' | 'event_keys' | 'quarantine', deviceId: string, where = 'true', params: unknown[] = []): Promise<number> {
  const source = table === 'event_keys' ? `source = 't'` : `source = 'terminal'`;
  const rows = await th.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE device_id = $1 AND ${source} AND ${where}`, [deviceId, ...params]);
  return rows[0]?.n ?? -1;
}

const now = () => Date.now();
const hmac = (cred: string) => createAccessEngine({ credentialKey: th.hub.config.credentialKey }).hashCredential(cred);
const door = (seq: number, state = 'opened') => ({ seq, ts: now(), kind: 'door', door: 'D1', state });
const punch = (seq: number, cred = 'CARD-1') => ({ seq, ts: now(), kind: 'punch', cred, dir: 'in' });

t.test('ack lists every seq; a resent batch is acked again and stored once', async (t) => {
  const d = await device();
  const term = th.terminal(d.token);
  await term.connect();
  const batch = [
    punch(1),
    door(2),
    { seq: 3, ts: now(), kind: 'alarm', code: 'tamper', detail: 'case opened' },
    { seq: 4, ts: now(), kind: 'access', cred: 'CARD-1', door: 'D1', granted: true, reason: 'granted' },
    { seq: 5, ts: now(), kind: 'access', cred: 'NOBODY', door: 'D1', granted: false, reason: 'unknown_credential' },
  ];
  const first = await sendEv(term, 1, batch);
  t.same(first, { t: 'ack', boot: 1, seqs: [1, 2, 3, 4, 5] }, 'every seq, no quarantine');
  t.equal(await count('events', d.id), 5);
  t.equal(await count('event_keys', d.id), 5);

  const again = await sendEv(term, 1, batch);
  t.same(again, { t: 'ack', boot: 1, seqs: [1, 2, 3, 4, 5] }, 'the resent batch is acked again');
  t.equal(await count('events', d.id), 5, 'and stored once');
  t.equal(await count('event_keys', d.id), 5);

  const overlap = await sendEv(term, 1, [door(4), door(5), door(6), door(7)]);
  t.same(overlap.seqs, [4, 5, 6, 7], 'a batch overlapping stored seqs is acked whole');
  t.equal(await count('events', d.id), 7, 'only the new seqs are added');
  const kinds = await th.query<{ seq: string; kind: string }>(`SELECT seq::text, kind FROM events WHERE device_id = $1 AND seq IN (4, 5) ORDER BY seq`, [d.id]);
  t.same(kinds.map((r) => r.kind), ['access', 'access'], 'a resend never overwrites what was stored first');
  await term.close();
});

t.test('identity is (device, boot, seq)', async (t) => {
  const d = await device();
  const term = th.terminal(d.token);
  await term.connect();
  await sendEv(term, 1, [door(1)]);
  const other = await sendEv(term, 2, [door(1)]);
  t.same(other, { t: 'ack', boot: 2, seqs: [1] }, 'the ack names the boot of the frame');
  const rows = await th.query<{ boot: string }>(`SELECT boot::text FROM events WHERE device_id = $1 ORDER BY boot`, [d.id]);
  t.same(rows.map((r) => r.boot), ['1', '2'], 'the same seq under two boots is two events');

  const twice = await sendEv(term, 3, [door(10, 'opened'), door(10, 'closed'), door(11)]);
  t.ok(twice.seqs.includes(10) && twice.seqs.includes(11), 'both seqs are acked');
  t.same([...new Set(twice.seqs)].sort((a, b) => a - b), [10, 11], 'and nothing else');
  t.equal(await count('events', d.id, 'boot = 3 AND seq = 10'), 1, 'the same seq twice in one frame is stored once');
  t.equal(await count('event_keys', d.id, 'boot = 3'), 2);

  // Another device with the same boot and seq is another event.
  const d2 = await device();
  const term2 = th.terminal(d2.token);
  await term2.connect();
  await sendEv(term2, 1, [door(1)]);
  t.equal(await count('events', d2.id, 'boot = 1 AND seq = 1'), 1, 'the same (boot, seq) on another device is stored for it');
  await term.close();
  await term2.close();
});

t.test('quarantine: each code in ack.q, the raw event kept in the quarantine table', async (t) => {
  const d = await device();
  const term = th.terminal(d.token);
  await term.connect();
  const day = 86_400_000;
  const cases: { name: string; event: (seq: number) => Record<string, unknown>; code: string }[] = [
    { name: 'an unknown kind', event: (seq) => ({ seq, ts: now(), kind: 'teleport', to: 'mars' }), code: 'unknown_kind' },
    { name: 'an event with no kind', event: (seq) => ({ seq, ts: now() }), code: 'unknown_kind' },
    { name: 'a punch with dir sideways', event: (seq) => ({ ...punch(seq), dir: 'sideways' }), code: 'bad_field' },
    { name: 'a punch with neither cred nor person', event: (seq) => ({ seq, ts: now(), kind: 'punch', dir: 'in' }), code: 'bad_field' },
    { name: 'a door event with state ajar', event: (seq) => door(seq, 'ajar'), code: 'bad_field' },
    { name: 'an access event with granted "yes"', event: (seq) => ({ seq, ts: now(), kind: 'access', cred: 'CARD-1', door: 'D1', granted: 'yes', reason: 'granted' }), code: 'bad_field' },
    { name: 'an alarm with no code', event: (seq) => ({ seq, ts: now(), kind: 'alarm' }), code: 'bad_field' },
    { name: 'a ts that is a string', event: (seq) => ({ ...door(seq), ts: '2026-01-01T00:00:00Z' }), code: 'bad_field' },
    { name: 'a ts with a fraction', event: (seq) => ({ ...door(seq), ts: now() + 0.5 }), code: 'bad_field' },
    { name: 'data over 1 KiB', event: (seq) => ({ ...door(seq), data: { blob: 'x'.repeat(1100) } }), code: 'data_too_large' },
    { name: 'a ts two days ahead', event: (seq) => ({ ...door(seq), ts: now() + 2 * day }), code: 'implausible_time' },
    { name: 'a ts in the year 2000', event: (seq) => ({ ...door(seq), ts: Date.UTC(2000, 0, 1) }), code: 'implausible_time' },
    { name: 'a ts of 0', event: (seq) => ({ ...door(seq), ts: 0 }), code: 'implausible_time' },
    { name: 'a punch with an unregistered cred', event: (seq) => punch(seq, 'NOBODY'), code: 'unknown_credential' },
    { name: 'a punch for an unknown person', event: (seq) => ({ seq, ts: now(), kind: 'punch', person: 'E-404', dir: 'out' }), code: 'unknown_person' },
    { name: 'a door the site does not have', event: (seq) => ({ ...door(seq), door: 'D9' }), code: 'unknown_door' },
  ];
  let seq = 0;
  for (const c of cases) {
    const bad = c.event(++seq);
    const good = door(++seq);
    const ack = await sendEv(term, 1, [bad, good]);
    t.same(ack, { t: 'ack', boot: 1, seqs: [bad.seq, good.seq], q: [{ seq: bad.seq, code: c.code }] }, `${c.name}: ack`);
    const rows = await th.query<{ code: string; boot: string; raw: unknown }>(
      'SELECT code, boot::text, raw FROM quarantine WHERE device_id = $1 AND seq = $2', [d.id, bad.seq]);
    // The raw event is kept as received, except the credential: only its keyed hash is stored.
    const { cred, ...rest } = JSON.parse(JSON.stringify(bad)) as Record<string, unknown>;
    const expected = typeof cred === 'string' ? { ...rest, cred_hmac: hmac(cred) } : { ...rest, ...(cred === undefined ? {} : { cred }) };
    t.same(rows, [{ code: c.code, boot: '1', raw: expected }], `${c.name}: quarantine row with the raw event`);
    t.notMatch(JSON.stringify(rows), /NOBODY|CARD-1/, `${c.name}: no credential in clear`);
    t.equal(await count('events', d.id, 'seq = $2', [bad.seq]), 0, `${c.name}: not in events`);
    t.equal(await count('events', d.id, 'seq = $2', [good.seq]), 1, `${c.name}: the good event beside it is stored`);
  }

  // Quarantined means stored: a resend is acked with the same code and kept once.
  const resent = cases[0]!.event(1);
  const ack = await sendEv(term, 1, [resent]);
  t.same(ack.q, [{ seq: 1, code: 'unknown_kind' }], 'a resent quarantined event is named in q again');
  t.equal(await count('quarantine', d.id, 'seq = 1'), 1, 'and kept once');
  await term.close();
});

t.test('data of exactly 1 KiB is stored; one byte more is quarantined', async (t) => {
  const d = await device();
  const term = th.terminal(d.token);
  await term.connect();
  const dataOf = (size: number) => {
    for (let n = size - 16; n <= size; n++) if (encodedSize({ note: 'x'.repeat(n) }, 'msgpack') === size) return { note: 'x'.repeat(n) };
    throw new Error(`no data map of ${size} bytes`);
  };
  const ack = await sendEv(term, 1, [{ ...door(1), data: dataOf(MAX_EVENT_DATA_BYTES) }, { ...door(2), data: dataOf(MAX_EVENT_DATA_BYTES + 1) }]);
  t.same(ack.q, [{ seq: 2, code: 'data_too_large' }]);
  const rows = await th.query<{ data: { note: string } }>('SELECT data FROM events WHERE device_id = $1 AND seq = 1', [d.id]);
  t.equal(rows[0]?.data.note.length, dataOf(MAX_EVENT_DATA_BYTES).note.length, 'the data map is stored whole');
  await term.close();
});

t.test('bad_seq: an event without a usable seq is quarantined without identity', async (t) => {
  const d = await device();
  const term = th.terminal(d.token, { encoding: 'json' });
  await term.connect();
  const cases: { name: string; seq: unknown }[] = [
    { name: 'seq 0', seq: 0 },
    { name: 'seq -1', seq: -1 },
    { name: 'seq 1.5', seq: 1.5 },
    { name: 'seq past 2^53', seq: 2 ** 53 },
    { name: 'seq as a string', seq: '7' },
    { name: 'no seq', seq: undefined },
  ];
  let good = 100;
  for (const c of cases) {
    const bad = { ...door(0), seq: c.seq };
    const ack = await sendEv(term, 1, [bad, door(++good)]);
    // protocol/README.md: such an event is not in seqs (it has no identity to ack) and not in q.
    t.same(ack, { t: 'ack', boot: 1, seqs: [good] }, `${c.name}: the ack names only the good event`);
    const rows = await th.query<{ code: string; seq: string | null; raw: unknown }>(
      `SELECT code, seq, raw FROM quarantine WHERE device_id = $1 ORDER BY id DESC LIMIT 1`, [d.id]);
    t.same(rows, [{ code: 'bad_seq', seq: null, raw: JSON.parse(JSON.stringify(bad)) }], `${c.name}: quarantined with seq null and the raw event`);
  }
  t.equal(await count('quarantine', d.id, 'seq IS NULL'), cases.length, 'one quarantine row each');
  t.equal(await count('event_keys', d.id), cases.length, 'only the good events have an identity');
  await term.close();
});

t.test('a __proto__ key survives into the raw event', async (t) => {
  const d = await device();
  const term = th.terminal(d.token, { encoding: 'json' });
  await term.connect();
  const ack = term.next('ack');
  const ts = now();
  term.sendRaw(`{"t":"ev","boot":1,"events":[{"seq":1,"ts":${ts},"kind":"teleport","__proto__":{"x":1}}]}`);
  t.same((await ack).q, [{ seq: 1, code: 'unknown_kind' }]);
  const rows = await th.query<{ raw: Record<string, unknown> }>('SELECT raw FROM quarantine WHERE device_id = $1', [d.id]);
  t.same(rows[0]?.raw, JSON.parse(`{"seq":1,"ts":${ts},"kind":"teleport","__proto__":{"x":1}}`), 'the raw event keeps every key');
  t.ok(rows[0] && Object.hasOwn(rows[0].raw, '__proto__'), 'including __proto__, as a plain key');
  await term.close();
});

t.test('events belong to the authenticated device, whatever device field they carry', async (t) => {
  const d = await device();
  const victim = await device();
  const term = th.terminal(d.token);
  await term.connect();
  const ack = await sendEv(term, 1, [
    { ...door(1), device: victim.id, device_id: victim.id },
    { ...punch(2), device: victim.id },
    { seq: 3, ts: now(), kind: 'teleport', device: victim.id },
  ], { device: victim.id, device_id: victim.id });
  t.same(ack.seqs, [1, 2, 3]);
  t.equal(await count('events', d.id), 2, 'stored under the sender');
  t.equal(await count('quarantine', d.id), 1, 'quarantined under the sender');
  t.equal(await count('events', victim.id), 0, 'nothing under the device the fields name');
  t.equal(await count('event_keys', victim.id), 0);
  t.equal(await count('quarantine', victim.id), 0);
  await term.close();
});

t.test('welcome.last_seq is the highest stored seq for (device, boot)', async (t) => {
  const d = await device();
  const first = th.terminal(d.token, { boot: 5 });
  t.equal((await first.connect()).last_seq, 0, 'nothing stored yet');
  await sendEv(first, 5, [door(1), door(2), door(3)]);
  await sendEv(first, 5, [door(2)]); // a resend below the top changes nothing
  await first.close();

  const again = th.terminal(d.token, { boot: 5 });
  t.equal((await again.connect()).last_seq, 3, 'after reconnect');
  const q = await sendEv(again, 5, [{ seq: 4, ts: now(), kind: 'teleport' }]);
  t.same(q.q, [{ seq: 4, code: 'unknown_kind' }]);
  await sendEv(again, 5, [door(0)]); // seq 0: bad_seq, no identity
  await again.close();

  const third = th.terminal(d.token, { boot: 5 });
  t.equal((await third.connect()).last_seq, 4, 'a quarantined event counts; an event without identity does not');
  await third.close();
  const rebooted = th.terminal(d.token, { boot: 6 });
  t.equal((await rebooted.connect()).last_seq, 0, 'a new boot starts at 0');
  await rebooted.close();
  const otherDevice = th.terminal((await device()).token, { boot: 5 });
  t.equal((await otherDevice.connect()).last_seq, 0, 'another device with the same boot starts at 0');
  await otherDevice.close();
});

t.test('ping gets pong with the ping id and time and the server time', async (t) => {
  const d = await device();
  for (const encoding of ['msgpack', 'json'] as const) {
    const term = th.terminal(d.token, { encoding });
    await term.connect();
    for (const id of [7, 'p-1']) {
      const time = 1_700_000_000_000;
      const before = Date.now();
      const answer = term.next('pong');
      term.sendFrame({ t: 'ping', id, time });
      const pong = await answer;
      const after = Date.now();
      t.same({ ...pong, server_time: 0 }, { t: 'pong', id, time, server_time: 0 }, `${encoding} id ${id}: id and time echoed`);
      t.ok(typeof pong.server_time === 'number' && pong.server_time >= before && pong.server_time <= after, `${encoding} id ${id}: server_time is the hub's clock`);
    }
    await term.close();
  }
});

t.test('JSON and msgpack terminals both work end to end', async (t) => {
  await th.admin.run('createGroup', { org: p.org, name: 'all' });
  await th.admin.run('addGroupMember', { org: p.org, group: 'all', person: 'E-1' });
  await th.admin.run('addGroupDoor', { org: p.org, group: 'all', site: 'site', door: 'D1' });
  await settle(th);
  for (const encoding of ['msgpack', 'json'] as const) {
    const d = await device();
    const term = th.terminal(d.token, { encoding, boot: 9 });
    const welcome = await term.connect();
    t.same(
      { device: welcome.device, site_tz: welcome.site_tz, last_seq: welcome.last_seq, max_batch: welcome.max_batch },
      { device: d.id, site_tz: 'UTC', last_seq: 0, max_batch: 500 }, `${encoding}: welcome`);
    t.ok(Number.isInteger(welcome.heartbeat_s) && welcome.heartbeat_s > 0, `${encoding}: heartbeat_s`);
    for (let i = 0; i < 20; i++) {
      term.enqueue(i % 2 ? { ts: now(), kind: 'punch', cred: 'CARD-1', dir: 'in' } : { ts: now(), kind: 'door', door: 'D1', state: 'opened' });
    }
    await term.drained();
    t.equal(term.stats.acked, 20, `${encoding}: every event acked`);
    const res = await term.auth('CARD-1', 'D1');
    t.same({ ok: res.ok, reason: res.reason, person: res.person }, { ok: true, reason: 'granted', person: 'E-1' }, `${encoding}: auth`);
    const rows = await th.query<{ n: number; people: number }>(
      `SELECT count(*)::int AS n, count(person_id)::int AS people FROM events WHERE device_id = $1 AND source = 'terminal' AND boot = 9`, [d.id]);
    t.same(rows, [{ n: 20, people: 10 }], `${encoding}: stored, punches resolved to the person`);
    await term.close();
  }
});
