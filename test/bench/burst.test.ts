// The shift-change burst against a real hub: 500 terminals at once, 20 punches each, 50 of them
// also asking for access. Asserts nothing is lost or stored twice; the timings are only printed.
import t from 'tap';
import { bucketQuantile, httpBase, parseBuckets, runBurst } from '../../bench/burst.js';
import { settle, startTestHub } from '../helpers/hub.js';

const TERMINALS = 500;
const EVENTS = 20;
const AUTH_TERMINALS = 50;

t.test('500 terminals x 20 punches while 50 ask for access: every punch stored once, every decision recorded', async (t) => {
  const th = await startTestHub(t, { LINTEL_INGEST_WORKERS: '1' });
  const people = Array.from({ length: TERMINALS * EVENTS }, (_, i) => ({ externalId: `p${i}`, creds: [`c${i}`] }));
  const fleet = await th.admin.run<{ devices: { id: string; name: string; token: string }[] }>('bulkProvision', {
    org: 'burst', site: 'plant', tz: 'UTC', doors: ['D1'], devices: Array.from({ length: TERMINALS }, (_, i) => `t${i}`), people, group: 'all',
  });
  await settle(th);
  t.equal(fleet.devices.length, TERMINALS);

  const s = await runBurst({
    url: th.url, devices: fleet.devices, creds: people.map((p) => p.creds[0]!), events: EVENTS,
    authTerminals: AUTH_TERMINALS, authRate: 5, encoding: 'msgpack', timeoutMs: 80_000, query: th.query,
  });

  t.equal(s.timed_out, false, 'the burst finished');
  t.equal(s.acked, TERMINALS * EVENTS, 'every punch acked');
  t.equal(s.quarantined, 0, 'no punch quarantined');
  t.ok(s.auth.sent >= AUTH_TERMINALS, 'every auth terminal asked at least once');
  t.equal(s.auth.answered, s.auth.sent, 'every auth answered');
  t.equal(s.auth.failed, 0);
  t.same(s.auth.reasons, { granted: s.auth.sent }, 'every auth granted');
  t.equal(s.auth.granted, s.auth.sent);
  t.ok(s.db, 'rows read back');
  t.equal(s.db?.rows, TERMINALS * EVENTS, 'one events row per punch');
  t.equal(s.db?.distinct, TERMINALS * EVENTS, 'distinct (device, boot, seq)');
  t.equal(s.db?.event_keys, TERMINALS * EVENTS, 'one ledger key per punch');
  t.equal(s.db?.duplicates, 0);
  t.equal(s.db?.hub_rows, s.auth.answered, 'every decision recorded as a hub event');
  t.equal(s.decisions_seen, s.auth.answered, "the hub's decision histogram saw every auth");

  t.comment(`wall ${s.wall_ms} ms (${s.events_per_s} events/s, connect ${s.connect_ms} ms); ack p50 ${s.ack_ms.p50} ms, p99 ${s.ack_ms.p99} ms; ` +
    `auth p99 ${s.auth.rtt_ms.p99} ms over ${s.auth.answered}; hub decision p99 ${s.decision_p99_ms} ms; ` +
    `generator cpu ${s.generator.cpu_pct}% (hub in the same process), loop delay p99 ${s.generator.loop_delay_p99_ms} ms; busy ${s.busy}, reconnects ${s.reconnects}`);
});

t.test('decision p99 from cumulative Prometheus buckets', async (t) => {
  const text = (counts: number[]) => ['0.001', '0.002', '0.005', '+Inf'].map((le, i) => `x_seconds_bucket{le="${le}"} ${counts[i]}`).join('\n');
  const cases: { name: string; after: number[]; before?: number[]; q: number; want: number | null }[] = [
    { name: 'no observations', after: [0, 0, 0, 0], q: 0.99, want: null },
    { name: 'all in the first bucket', after: [100, 100, 100, 100], q: 0.5, want: 0.0005 },
    { name: 'interpolated in the second bucket', after: [50, 100, 100, 100], q: 0.75, want: 0.0015 },
    { name: 'only the delta since the last scrape counts', after: [150, 200, 200, 200], before: [100, 100, 100, 100], q: 0.5, want: 0.001 },
    { name: 'beyond the last bound', after: [0, 0, 0, 10], q: 0.99, want: 0.005 },
  ];
  for (const c of cases) {
    const got = bucketQuantile(c.q, parseBuckets(text(c.after), 'x_seconds'), c.before ? parseBuckets(text(c.before), 'x_seconds') : undefined);
    t.equal(got.value === null ? null : Math.round(got.value * 1e9) / 1e9, c.want, c.name);
  }
  t.equal(httpBase('ws://127.0.0.1:8080/v1/terminal'), 'http://127.0.0.1:8080');
  t.equal(httpBase('wss://hub.example:443/v1/terminal?token=x'), 'https://hub.example');
});
