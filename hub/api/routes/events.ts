// /v1/events, /v1/quarantine and /v1/audit: what happened, what the store could not place, and
// who changed what. Reads are keyset pages, newest first; only quarantine resolution writes.
import { EVENT_KINDS, QUARANTINE_CODES } from '../../../protocol/frames.js';
import type { Route } from '../router.js';
import { dateTime, nullableDateTime, object, pageOf, pageQuery, uuid } from '../schemas.js';
import type { ApiServices } from '../services.js';

const nullable = (type: string) => ({ type: [type, 'null'] });
const nullableUuid = { type: ['string', 'null'], format: 'uuid' } as const;
const source = { enum: ['terminal', 'hub'] } as const;
const event = object({
  id: { type: 'integer' }, ts: dateTime, received_at: dateTime, site_id: uuid, device_id: uuid, source,
  boot: { type: 'integer' }, seq: { type: 'integer' }, kind: { type: 'string' }, person_id: nullableUuid, door_id: nullableUuid,
  dir: nullable('string'), granted: nullable('boolean'), reason: nullable('string'), state: nullable('string'),
  code: nullable('string'), detail: nullable('string'), rule: nullable('string'), data: nullable('object'),
});
const quarantined = object({
  id: uuid, received_at: dateTime, site_id: uuid, device_id: uuid, source, boot: nullable('integer'), seq: nullable('integer'),
  code: { type: 'string', description: 'why it is quarantined (PROTOCOL section 4)' }, detail: nullable('string'),
  raw: { description: 'the event as received, without `cred`' },
  cred_ref: { type: ['string', 'null'], description: 'a keyed hash prefix of the credential: equal for the same card, never the card' },
  resolved_at: nullableDateTime, resolution: { type: ['string', 'null'], enum: ['assign', 'discard', null] },
  resolution_reason: nullable('string'), resolved_by: nullable('string'), person_id: nullableUuid, event_id: nullable('integer'),
});
const auditEntry = object({
  id: { type: 'integer' }, at: dateTime, actor: { type: 'string' }, action: { type: 'string' }, entity: { type: 'string' },
  entity_id: nullable('string'), before: {}, after: {},
});
const reason = { type: 'string', minLength: 1, maxLength: 500 } as const;
const text = { type: 'string', minLength: 1, maxLength: 200 } as const;
const range = { from: { ...dateTime, description: 'inclusive' }, to: { ...dateTime, description: 'exclusive' } };

/** ISO strings in the instant JS parsed them as, so PostgreSQL's session zone plays no part. */
const instants = (q: Record<string, unknown>) => ({
  ...q,
  from: q.from === undefined ? undefined : new Date(q.from as string).toISOString(),
  to: q.to === undefined ? undefined : new Date(q.to as string).toISOString(),
});

export function eventsRoutes({ store }: ApiServices): Route[] {
  return [
    {
      method: 'GET', path: '/v1/events', tag: 'events', role: 'viewer', summary: 'List events, newest first',
      query: object({
        ...pageQuery, site: uuid, door: uuid, device: uuid, person: uuid, kind: { enum: EVENT_KINDS }, source, ...range,
      }),
      response: pageOf(event),
      handle: async ({ key, query }) => ({ body: await store.run('listEvents', { orgId: key.orgId, ...instants(query) }) }),
    },
    {
      method: 'GET', path: '/v1/quarantine', tag: 'quarantine', role: 'viewer', summary: 'List quarantined events, newest first',
      query: object({ ...pageQuery, device: uuid, code: { enum: QUARANTINE_CODES }, resolved: { type: 'boolean' } }),
      response: pageOf(quarantined),
      handle: async ({ key, query }) => ({ body: await store.run('listQuarantine', { orgId: key.orgId, ...query }) }),
    },
    {
      method: 'GET', path: '/v1/quarantine/{id}', tag: 'quarantine', role: 'viewer', summary: 'One quarantined event', response: quarantined,
      handle: async ({ key, params }) => ({ body: await store.run('getQuarantine', { orgId: key.orgId, id: params.id }) }),
    },
    {
      method: 'POST', path: '/v1/quarantine/{id}/resolve', tag: 'quarantine', role: 'operator',
      summary: 'Resolve a quarantined event: assign a punch to a person (it becomes an event) or discard it',
      body: {
        ...object({ action: { enum: ['assign', 'discard'] }, person_id: uuid, reason }, ['action', 'reason']),
        if: { properties: { action: { const: 'assign' } } },
        then: { required: ['person_id'] },
        else: { properties: { person_id: false } },
      },
      response: object({ quarantine: quarantined, event: { anyOf: [event, { type: 'null' }] } }, ['quarantine', 'event']),
      handle: async ({ key, actor, params, body }) => ({
        body: await store.run('resolveQuarantine', {
          orgId: key.orgId, actor, id: params.id, action: body.action, personId: body.person_id, reason: body.reason,
        }),
      }),
    },
    {
      method: 'GET', path: '/v1/audit', tag: 'audit', role: 'admin', summary: 'The organization\'s audit log, newest first',
      query: object({ ...pageQuery, entity: text, entity_id: text, action: text, ...range }),
      response: pageOf(auditEntry),
      handle: async ({ key, query }) => ({ body: await store.run('listAuditLog', { orgId: key.orgId, ...instants(query) }) }),
    },
  ];
}
