// The organization's retention policy (issue P6): how long its events and quarantined events are
// kept. Maintenance (workers/retention.ts) applies it; no policy means everything is kept.
import { audit, db, type Scope } from './common.js';

const POLICY = 'events_days, quarantine_days, updated_at, actor';

type Row = Record<string, unknown>;
const present = (orgId: string, row: Row | undefined) => ({
  org_id: orgId, events_days: row?.events_days ?? null, quarantine_days: row?.quarantine_days ?? null,
  updated_at: row?.updated_at ?? null, updated_by: row?.actor ?? null,
});

export async function getRetention(a: { orgId: string }) {
  const [row] = await db().unsafe(`SELECT ${POLICY} FROM retention_policies WHERE org_id = $1`, [a.orgId]);
  return present(a.orgId, row);
}

export async function putRetention(a: Scope & { eventsDays: number; quarantineDays: number | null }) {
  return db().begin(async (tx) => {
    // The row lock orders this after a maintenance batch that read the old policy (FOR SHARE).
    const [before] = await tx.unsafe(`SELECT ${POLICY} FROM retention_policies WHERE org_id = $1 FOR UPDATE`, [a.orgId]);
    const [after] = await tx.unsafe(
      `INSERT INTO retention_policies AS r (org_id, events_days, quarantine_days, actor) VALUES ($1, $2, $3, $4)
       ON CONFLICT (org_id) DO UPDATE SET events_days = excluded.events_days, quarantine_days = excluded.quarantine_days,
         actor = excluded.actor, updated_at = now()
       RETURNING ${POLICY}`,
      [a.orgId, a.eventsDays, a.quarantineDays, a.actor],
    );
    const value = present(a.orgId, after);
    await audit(tx, a, 'retention.set', 'retention', a.orgId, before ? present(a.orgId, before) : null, value);
    return value;
  });
}

/** Back to keeping everything. */
export async function deleteRetention(a: Scope) {
  return db().begin(async (tx) => {
    const [before] = await tx.unsafe(`DELETE FROM retention_policies WHERE org_id = $1 RETURNING ${POLICY}`, [a.orgId]);
    const value = present(a.orgId, undefined);
    if (before) await audit(tx, a, 'retention.unset', 'retention', a.orgId, present(a.orgId, before), value);
    return value;
  });
}
