import t from 'tap';
import { provisionSite, startTestHub } from '../helpers/hub.js';

t.test('a terminal connects, punches and is acked', async (t) => {
  const th = await startTestHub(t);
  const p = await provisionSite(th);
  const term = th.terminal(p.token);
  const welcome = await term.connect();
  t.equal(welcome.last_seq, 0);
  term.enqueue({ ts: Date.now(), kind: 'door', door: 'D1', state: 'opened' });
  await term.drained();
  const rows = await th.query('SELECT kind, state FROM events WHERE device_id = $1', [p.deviceId]);
  t.same(rows, [{ kind: 'door', state: 'opened' }]);
});
