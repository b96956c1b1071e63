// Stopping and starting the hub on the same data folder keeps everything: the embedded
// PostgreSQL's data, the credential key, and what terminals stored.
import { rm } from 'node:fs/promises';
import t from 'tap';
import { freePort, provisionSite, startTestHub, tempDataDir } from '../helpers/hub.js';

t.test('a restart keeps devices, credentials and events', async (t) => {
  const dataDir = await tempDataDir();
  const pgPort = String(await freePort());
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));

  const first = await startTestHub({ teardown: () => {} }, {}, { dataDir, pgPort });
  const p = await provisionSite(first);
  await first.admin.run('createPerson', { org: p.org, externalId: 'e1' });
  await first.admin.run('addCredential', { org: p.org, person: 'e1', cred: 'CARD-9' });
  const term = first.terminal(p.token, { boot: 5 });
  await term.connect();
  for (let i = 0; i < 3; i++) term.enqueue({ ts: Date.now(), kind: 'punch', cred: 'CARD-9', dir: 'in' });
  await term.drained();
  await term.close();
  await first.admin.close();
  await first.hub.close();

  const second = await startTestHub(t, {}, { dataDir, pgPort });
  const again = second.terminal(p.token, { boot: 5 });
  const welcome = await again.connect();
  t.equal(welcome.last_seq, 3, 'the store still knows seq 3 of boot 5');
  const rows = await second.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE device_id = $1 AND kind = 'punch' AND person_id IS NOT NULL`, [p.deviceId]);
  t.equal(rows[0]?.n, 3, 'the punches are still there, attributed to the person');
});
