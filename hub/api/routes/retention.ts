// /v1/retention: the organization's retention policy. Maintenance applies it install-wide, one hub
// at a time, every LINTEL_MAINTENANCE_INTERVAL_S (README "Retention and partitions").
import type { Route } from '../router.js';
import { nullableDateTime, object, uuid } from '../schemas.js';
import type { ApiServices } from '../services.js';

const days = (what: string) => ({ type: 'integer', minimum: 1, maximum: 36500, description: what });
const policy = object({
  org_id: uuid,
  events_days: { ...days('events older than this many days are deleted; null: kept for ever'), type: ['integer', 'null'] },
  quarantine_days: { ...days('quarantined events received longer ago than this are deleted; null: kept'), type: ['integer', 'null'] },
  updated_at: nullableDateTime,
  updated_by: { type: ['string', 'null'] },
});

export function retentionRoutes({ store }: ApiServices): Route[] {
  return [
    {
      method: 'GET', path: '/v1/retention', tag: 'retention', role: 'viewer',
      summary: 'The organization\'s retention policy (nulls: everything is kept)', response: policy,
      handle: async ({ key }) => ({ body: await store.run('getRetention', { orgId: key.orgId }) }),
    },
    {
      method: 'PUT', path: '/v1/retention', tag: 'retention', role: 'admin',
      summary: 'Set the retention policy; the next maintenance run applies it',
      body: object({ events_days: days('keep events this many days'), quarantine_days: { ...days('keep quarantined events this many days; null or absent: keep them'), type: ['integer', 'null'] } }, ['events_days']),
      response: policy,
      handle: async ({ key, actor, body }) => ({
        body: await store.run('putRetention', { orgId: key.orgId, actor, eventsDays: body.events_days, quarantineDays: body.quarantine_days ?? null }),
      }),
    },
    {
      method: 'DELETE', path: '/v1/retention', tag: 'retention', role: 'admin',
      summary: 'Remove the retention policy: everything is kept again', response: policy,
      handle: async ({ key, actor }) => ({ body: await store.run('deleteRetention', { orgId: key.orgId, actor }) }),
    },
  ];
}
