// A value PostgreSQL refuses that every check before it passed (here: a constraint the hub knows
// nothing about) must hold up nothing else: not the other events of its frame, not the other
// terminals' frames that share its batch. It is quarantined as store_rejected, with the reason.
import t from 'tap';
import type { AckFrame } from '../../protocol/frames.js';
import { provisionSite, startTestHub, type TestHub } from '../helpers/hub.js';

const BOOT = 5;

async function apartBatches(th: TestHub): Promise<number> {
  const text = await (await fetch(`${th.httpUrl}/metrics`)).text();
  return Number(/^lintel_ingest_batches_total\{path="apart"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

/** Rejects when `p` has not settled after `hangMs`: a hang detector, not a speed threshold. */
function orHang<T>(p: Promise<T>, what: string, hangMs = 60_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${hangMs} ms`)), hangMs); });
  return Promise.race([p, hang]).finally(() => clearTimeout(timer));
}

t.test('an event PostgreSQL refuses is quarantined; its frame and its batch are stored', async (t) => {
  // A long batch window: the three terminals' frames share one batch.
  const th = await startTestHub(t, { LINTEL_BATCH_MS: '300' });
  const sites = [await provisionSite(th), await provisionSite(th), await provisionSite(th)];
  await th.query(`ALTER TABLE events ADD CONSTRAINT refuses_poison CHECK (detail IS DISTINCT FROM 'poison')`);
  const acks: AckFrame[][] = sites.map(() => []);
  const busy = sites.map(() => 0);
  const terms = sites.map((s, i) => {
    const term = th.terminal(s.token, { boot: BOOT });
    term.on('ack', (a: AckFrame) => acks[i]!.push(a));
    term.on('busy', () => { busy[i]!++; });
    return term;
  });
  await Promise.all(terms.map((x) => x.connect()));
  const apartBefore = await apartBatches(th);

  const ts = Date.now();
  terms[0]!.enqueue({ seq: 1, ts, kind: 'alarm', code: 'tamper', detail: 'case opened' });
  terms[0]!.enqueue({ seq: 2, ts, kind: 'alarm', code: 'tamper', detail: 'poison' });
  terms[0]!.enqueue({ seq: 3, ts, kind: 'door', door: 'D1', state: 'opened' });
  for (let seq = 1; seq <= 3; seq++) terms[1]!.enqueue({ seq, ts, kind: 'alarm', code: 'power', detail: `mains ${seq}` });
  terms[2]!.enqueue({ seq: 1, ts, kind: 'door', door: 'D1', state: 'forced' });
  terms.forEach((x, i) => { x.lastSeq = i === 2 ? 1 : 3; });
  await orHang(Promise.all(terms.map((x) => x.drained())), 'every frame acked');

  t.equal(await apartBatches(th), apartBefore + 1, 'one batch, stored frame by frame');
  t.same(busy, [0, 0, 0], 'no terminal was told to resend');
  t.same(acks[0]!.flatMap((a) => a.seqs), [1, 2, 3], 'the frame with the refused event is acked whole');
  t.same(acks[0]!.flatMap((a) => a.q ?? []), [{ seq: 2, code: 'store_rejected' }], 'naming the refused event');
  t.same(acks[1]!.flatMap((a) => a.seqs), [1, 2, 3], 'the other terminals are acked');
  t.same(acks[2]!.flatMap((a) => a.seqs), [1]);

  const stored = async (i: number) => (await th.query<{ seq: number }>(
    'SELECT seq::int AS seq FROM events WHERE device_id = $1 AND boot = $2 ORDER BY seq', [sites[i]!.deviceId, BOOT])).map((r) => r.seq);
  t.same(await stored(0), [1, 3], "the refused event's neighbours are stored");
  t.same(await stored(1), [1, 2, 3]);
  t.same(await stored(2), [1]);
  const q = await th.query<{ seq: number; code: string; detail: string; raw: Record<string, unknown> }>(
    'SELECT seq::int AS seq, code, detail, raw FROM quarantine WHERE device_id = $1', [sites[0]!.deviceId]);
  t.equal(q.length, 1, 'one quarantine row');
  t.match(q[0], { seq: 2, code: 'store_rejected', detail: /^23514: .*refuses_poison/, raw: { seq: 2, kind: 'alarm', detail: 'poison' } }, 'with the SQLSTATE, the reason and the event as received');

  // Resent (its ack lost), the frame is a duplicate: nothing is added, nothing is refused.
  acks[0]!.length = 0;
  terms[0]!.enqueue({ seq: 2, ts, kind: 'alarm', code: 'tamper', detail: 'poison' });
  await orHang(terms[0]!.drained(), 'the resend acked');
  t.same(acks[0]!.flatMap((a) => a.seqs), [2], 'the resend is acked');
  const keys = await th.query<{ n: number }>('SELECT count(*)::int AS n FROM event_keys WHERE device_id = $1 AND boot = $2', [sites[0]!.deviceId, BOOT]);
  t.same(keys, [{ n: 3 }], 'each identity once in the ledger');
  t.same((await th.query('SELECT 1 FROM quarantine WHERE device_id = $1', [sites[0]!.deviceId])).length, 1, 'and once in quarantine');
});
