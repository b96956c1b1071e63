// Holds the hub's ingest commit back: a transaction of the test's own takes a lock that conflicts
// with INSERT on event_keys until release().
import type postgres from 'postgres';

export async function lockEventKeys(sql: postgres.Sql): Promise<{ release(): Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((r) => { release = r; });
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => { locked = r; });
  const tx = sql.begin(async (tx) => {
    await tx`LOCK TABLE event_keys IN SHARE ROW EXCLUSIVE MODE`;
    locked();
    await released;
  });
  await Promise.race([isLocked, tx]);
  return { release: async () => { release(); await tx; } };
}
