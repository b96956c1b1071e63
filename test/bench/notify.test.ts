// bench/notify.ts as a child process, small: every notification a sender committed reaches every
// listening connection (the fleet's LISTEN/NOTIFY figure in README is only as good as that).
// Its rates are printed, never asserted.
import t from 'tap';
import { spawnNode } from '../../bench/proc.js';

t.test('bench/notify.ts: every committed notification is delivered to every hub', async (t) => {
  const run = await spawnNode('bench/notify.ts', ['--hubs', '3', '--senders', '2', '--seconds', '1']);
  t.equal(await run.exited, 0, 'exits 0', { stderr: run.stderr.join('').slice(-3000) });
  const r = run.first as { bench: string; hubs: number; notified_claims_per_s: number; baseline_claims_per_s: number; delivered: number; expected: number; delivery_ms: { p99: number } };
  t.equal(r.bench, 'notify');
  t.ok(r.notified_claims_per_s > 0 && r.baseline_claims_per_s > 0, 'both variants committed claims');
  t.equal(r.expected % r.hubs, 0, 'expected deliveries: committed claims x hubs');
  t.equal(r.delivered, r.expected, 'every notification reached every listener');
  t.comment(`claims/s ${r.notified_claims_per_s} notified vs ${r.baseline_claims_per_s} plain; delivery p99 ${r.delivery_ms.p99} ms`);
});
