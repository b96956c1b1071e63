// The two ingest paths (workers/fast-path.ts): new events that resolve in memory go the fast path
// (plain inserts); resends and events only PostgreSQL can judge go the staging path. Either way
// each event is stored once, with the same resolution and the same answers.
import t from 'tap';
import { provisionSite, settle, startTestHub, type TestHub } from '../helpers/hub.js';

const BOOT = 3;

async function batches(th: TestHub): Promise<{ fast: number; staging: number }> {
  const text = await (await fetch(`${th.httpUrl}/metrics`)).text();
  const read = (path: string) => Number(new RegExp(`^lintel_ingest_batches_total\\{path="${path}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  return { fast: read('fast'), staging: read('staging') };
}

t.test('fast path for new events, staging path for resends and unknowns, same results', async (t) => {
  const th = await startTestHub(t);
  const site = await provisionSite(th);
  const person = await th.admin.run<{ id: string }>('createPerson', { org: site.org, externalId: 'E-1' });
  const cred = await th.admin.run<{ id: string }>('addCredential', { org: site.org, person: 'E-1', cred: 'card-1' });
  await settle(th);
  const term = th.terminal(site.token, { boot: BOOT });
  const acks: { seqs: number[]; q?: { seq: number; code: string }[] }[] = [];
  term.on('ack', (a) => acks.push(a));
  await term.connect();
  const rows = (seqs: number[]) => th.query<{ seq: number; person_id: string; credential_id: string; door_id: string | null; n: number }>(
    `SELECT seq::int AS seq, person_id, credential_id, door_id, count(*) OVER (PARTITION BY seq)::int AS n FROM events
     WHERE device_id = $1 AND boot = $2 AND seq = ANY($3::bigint[]) ORDER BY seq`, [site.deviceId, BOOT, seqs]);

  // 1. New punches, a door event and one with a bad field: all resolvable in memory.
  const before = await batches(th);
  for (let i = 1; i <= 40; i++) term.enqueue({ seq: i, ts: Date.now(), kind: 'punch', cred: 'card-1', dir: 'in' });
  term.enqueue({ seq: 41, ts: Date.now(), kind: 'door', door: 'D1', state: 'opened' });
  term.enqueue({ seq: 42, ts: Date.now(), kind: 'punch', cred: 'card-1', dir: 'sideways' });
  term.lastSeq = 42;
  await term.drained();
  const afterNew = await batches(th);
  t.ok(afterNew.fast > before.fast, 'new events went the fast path');
  t.equal(afterNew.staging, before.staging, 'and not the staging path');
  const stored = await rows(Array.from({ length: 42 }, (_, i) => i + 1));
  t.equal(stored.length, 41, '41 events stored (the bad one is quarantined)');
  t.ok(stored.filter((r) => r.seq <= 40).every((r) => r.person_id === person.id && r.credential_id === cred.id), 'punches resolved to the person and credential');
  t.equal(stored.find((r) => r.seq === 41)?.door_id, site.doorId, 'the door event resolved to the door');
  t.ok(stored.every((r) => r.n === 1), 'each once');
  const q = await th.query<{ seq: number; code: string }>('SELECT seq::int AS seq, code FROM quarantine WHERE device_id = $1 ORDER BY seq', [site.deviceId]);
  t.same(q, [{ seq: 42, code: 'bad_field' }], 'the bad field is in quarantine');
  t.same(acks.flatMap((a) => a.q ?? []), [{ seq: 42, code: 'bad_field' }], 'and named in the ack');
  const keys = await th.query<{ n: number }>(`SELECT count(*)::int AS n FROM event_keys WHERE device_id = $1 AND boot = $2 AND source = 't'`, [site.deviceId, BOOT]);
  t.same(keys, [{ n: 42 }], 'every identity in the ledger');

  // 2. A resend of stored events (and two new ones): the fast path refuses, the staging path stores the new ones once.
  acks.length = 0;
  for (const seq of [5, 6, 7, 43, 44]) term.enqueue({ seq, ts: Date.now(), kind: 'punch', cred: 'card-1', dir: 'out' });
  term.lastSeq = 44;
  await term.drained();
  const afterResend = await batches(th);
  t.ok(afterResend.staging > afterNew.staging, 'the resend went the staging path');
  t.same(acks.flatMap((a) => a.seqs).sort((a, b) => a - b), [5, 6, 7, 43, 44], 'all acked');
  const again = await rows([5, 6, 7, 43, 44]);
  t.same(again.map((r) => [r.seq, r.n]), [[5, 1], [6, 1], [7, 1], [43, 1], [44, 1]], 'stored once each, the new ones added');

  // 3. A credential PostgreSQL must judge: the staging path quarantines it.
  acks.length = 0;
  term.enqueue({ seq: 45, ts: Date.now(), kind: 'punch', cred: 'card-unknown', dir: 'in' });
  term.lastSeq = 45;
  await term.drained();
  t.ok((await batches(th)).staging > afterResend.staging, 'an unknown credential goes the staging path');
  t.same(acks.flatMap((a) => a.q ?? []), [{ seq: 45, code: 'unknown_credential' }], 'and is quarantined as unknown');

  // 4. A credential added a moment ago: the worker reloads its maps for the hub's state version.
  await th.admin.run('addCredential', { org: site.org, person: 'E-1', cred: 'card-new' });
  await settle(th);
  const beforeNew = await batches(th);
  acks.length = 0;
  term.enqueue({ seq: 46, ts: Date.now(), kind: 'punch', cred: 'card-new', dir: 'in' });
  term.lastSeq = 46;
  await term.drained();
  t.equal((await batches(th)).fast, beforeNew.fast + 1, 'the new credential resolves in memory: fast path');
  t.same(acks.flatMap((a) => a.q ?? []), [], 'not quarantined');
  t.equal((await rows([46]))[0]?.person_id, person.id, 'stored for its person');
});

t.test('the fast path writes the same rows as the staging path, byte for byte', async (t) => {
  const th = await startTestHub(t);
  const site = await provisionSite(th);
  await th.admin.run('createPerson', { org: site.org, externalId: 'E-1' });
  await th.admin.run('createPerson', { org: site.org, externalId: 'E\t2\\x' });
  await th.admin.run('addCredential', { org: site.org, person: 'E-1', cred: 'card-1' });
  await settle(th);
  const ts = Date.now() - 60_000;
  // What COPY text must escape (tab, newline, carriage return, backslash, NUL), JSON with
  // backslashes, non-ASCII, and one event of each kind; a run of seqs with a gap in it; events
  // the worker quarantines itself (bad field, data too large, no seq).
  const tricky = 'tab\there\nline\r\\back\\slash \u0000nul é 漢字 🚪';
  const events = (extra: Record<string, unknown>[]) => [
    { seq: 1, ts, kind: 'punch', cred: 'card-1', dir: 'in', data: { note: tricky, nested: { q: '"quoted"', n: 1.5, list: [1, 'two', null] } } },
    { seq: 2, ts: ts + 1, kind: 'punch', person: 'E\t2\\x', dir: 'out' },
    { seq: 3, ts: ts + 2, kind: 'door', door: 'D1', state: 'opened' },
    { seq: 4, ts: ts + 3, kind: 'alarm', code: 'tamper\tX', detail: tricky },
    { seq: 5, ts: ts + 4, kind: 'access', cred: 'card-1', door: 'D1', granted: true, reason: 'offline\\cache', rid: 7 },
    { seq: 7, ts: ts + 5, kind: 'punch', cred: 'card-1', dir: 'sideways' },
    { seq: 8, ts: ts + 6, kind: 'alarm', code: 'big', data: { blob: 'x'.repeat(2000) } },
    { ts: ts + 7, kind: 'alarm', code: 'no-seq' },
    ...extra,
  ];
  const sendFrame = async (boot: number, extra: Record<string, unknown>[]) => {
    const term = th.terminal(site.token, { boot });
    const acked = new Promise<Record<string, unknown>>((resolve) => term.on('ack', (a) => resolve(a)));
    await term.connect();
    term.sendFrame({ t: 'ev', boot, events: events(extra) });
    const ack = await acked;
    await term.close();
    return ack;
  };
  const before = await batches(th);
  const fastAck = await sendFrame(11, []);
  const mid = await batches(th);
  t.equal(mid.fast, before.fast + 1, 'the first frame went the fast path');
  // The same events, plus a punch of a card nobody holds: only PostgreSQL can judge it, so the whole batch goes the staging path.
  const stagingAck = await sendFrame(12, [{ seq: 9, ts: ts + 8, kind: 'punch', cred: 'card-unknown', dir: 'in' }]);
  t.equal((await batches(th)).staging, mid.staging + 1, 'the second went the staging path');

  t.same(fastAck.seqs, [1, 2, 3, 4, 5, 7, 8], 'fast path: every sequenced event acked');
  t.same(stagingAck.seqs, [1, 2, 3, 4, 5, 7, 8, 9], 'staging path: the same, and the unknown card');
  t.same(fastAck.q, [{ seq: 7, code: 'bad_field' }, { seq: 8, code: 'data_too_large' }], 'fast path: the worker\'s quarantine codes');
  t.same(stagingAck.q, [{ seq: 7, code: 'bad_field' }, { seq: 8, code: 'data_too_large' }, { seq: 9, code: 'unknown_credential' }], 'staging path: the same, and the unknown card');

  const eventRows = (boot: number) => th.query(
    `SELECT seq, ts, kind, source, org_id, site_id, person_id, credential_id, cred_hash, door_id, dir, granted, reason, state, code, detail, rid, rule, data::text AS data
     FROM events WHERE device_id = $1 AND boot = $2 ORDER BY seq`, [site.deviceId, boot]);
  const quarantineRows = (boot: number) => th.query(
    `SELECT seq, source, org_id, site_id, code, detail, raw::text AS raw FROM quarantine
     WHERE device_id = $1 AND boot = $2 AND (seq IS NULL OR seq < 9) ORDER BY seq NULLS LAST`, [site.deviceId, boot]);
  const keys = (boot: number) => th.query(`SELECT seq::int AS seq, outcome FROM event_keys WHERE device_id = $1 AND boot = $2 AND seq < 9 ORDER BY seq`, [site.deviceId, boot]);
  const fastRows = await eventRows(11);
  t.equal(fastRows.length, 5, 'five events stored');
  t.same(fastRows, await eventRows(12), 'events: the same rows either way');
  const fastQ = await quarantineRows(11);
  t.equal(fastQ.length, 3, 'three quarantined, one of them without a seq');
  t.same(fastQ, await quarantineRows(12), 'quarantine: the same rows either way');
  t.same(await keys(11), await keys(12), 'the ledger: the same identities and outcomes');
  t.same((await keys(11)).map((k) => k.seq), [1, 2, 3, 4, 5, 7, 8], 'the ledger holds each sequenced event, the gap at 6 kept');
  const punch = fastRows.find((r) => r.seq === '1' || r.seq === 1) as Record<string, unknown>;
  t.match(String(punch.data), /tab\\there\\nline\\r\\\\back/, 'JSON escapes survive both escapings');
});
