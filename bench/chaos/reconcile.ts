// After the run: what the terminals sent and had acknowledged against what PostgreSQL holds, per
// device, for the run's boot. A seq is "sent" once the terminal numbered it (1..lastSeq).
export interface DeviceRun { id: string; lastSeq: number; acked: Set<number> }

export interface Reconciliation {
  sent: number;
  acknowledged: number;
  stored: number; // distinct seqs of punches in events
  duplicated: number; // seqs with more than one events row
  duplicate_rows: number; // rows beyond the first of those seqs
  missing: number; // sent seqs with no events row
  acked_missing: number; // acked seqs with no events row: the hub broke its promise
  beyond_sent: number; // stored seqs the terminal never numbered (should be impossible)
  quarantined: number; // rows in quarantine for these devices and this boot
  event_keys: number; // ledger rows for these devices and this boot
  other_rows: number; // terminal rows of another kind (there should be none)
  examples: { device: number; seq: number; problem: 'missing' | 'acked_missing' | 'duplicated' }[];
}

type Query = <T>(text: string, params: unknown[]) => Promise<T[]>;

export async function reconcile(query: Query, devices: DeviceRun[], boot: number): Promise<Reconciliation> {
  const ids = devices.map((d) => d.id);
  const rows = await query<{ device: string; seqs: number[]; ns: number[] }>(
    `SELECT device_id::text AS device, array_agg(seq ORDER BY seq) AS seqs, array_agg(n ORDER BY seq) AS ns
       FROM (SELECT device_id, seq::int AS seq, count(*)::int AS n FROM events
              WHERE device_id = ANY($1::uuid[]) AND source = 'terminal' AND boot = $2 AND kind = 'punch'
              GROUP BY device_id, seq) x
      GROUP BY device_id`, [ids, boot]);
  const [side] = await query<{ quarantined: number; keys: number; other: number }>(
    `SELECT (SELECT count(*)::int FROM quarantine WHERE device_id = ANY($1::uuid[]) AND boot = $2) AS quarantined,
            (SELECT count(*)::int FROM event_keys WHERE device_id = ANY($1::uuid[]) AND source = 't' AND boot = $2) AS keys,
            (SELECT count(*)::int FROM events WHERE device_id = ANY($1::uuid[]) AND source = 'terminal' AND boot = $2 AND kind <> 'punch') AS other`,
    [ids, boot]);
  const byDevice = new Map(rows.map((r) => [r.device, r]));
  const r: Reconciliation = {
    sent: 0, acknowledged: 0, stored: 0, duplicated: 0, duplicate_rows: 0, missing: 0, acked_missing: 0, beyond_sent: 0,
    quarantined: side?.quarantined ?? 0, event_keys: side?.keys ?? 0, other_rows: side?.other ?? 0, examples: [],
  };
  const example = (device: number, seq: number, problem: Reconciliation['examples'][number]['problem']) => {
    if (r.examples.length < 20) r.examples.push({ device, seq, problem });
  };
  for (const [i, d] of devices.entries()) {
    const got = byDevice.get(d.id);
    const count = new Map<number, number>();
    got?.seqs.forEach((s, k) => count.set(Number(s), Number(got.ns[k])));
    r.sent += d.lastSeq;
    r.acknowledged += d.acked.size;
    for (const [seq, n] of count) {
      if (seq < 1 || seq > d.lastSeq) { r.beyond_sent++; continue; }
      r.stored++;
      if (n > 1) { r.duplicated++; r.duplicate_rows += n - 1; example(i, seq, 'duplicated'); }
    }
    for (let seq = 1; seq <= d.lastSeq; seq++) {
      if (count.has(seq)) continue;
      r.missing++;
      if (d.acked.has(seq)) { r.acked_missing++; example(i, seq, 'acked_missing'); } else example(i, seq, 'missing');
    }
  }
  return r;
}
