// /v1/devices (provisioning, token rotation, enable/disable), /v1/terminals (this hub's live
// sessions), and remote door commands (PROTOCOL section 6) to one door or to every door of a site.
import { randomUUID } from 'node:crypto';
import { COMMAND_ACTIONS, type CmdFrame, type CommandAction } from '../../../protocol/frames.js';
import type { ApiKeyEntry, DoorEntry } from '../../access.js';
import { balanced } from '../../accounting.js';
import { send, type Socket } from '../../session.js';
import { ApiError, type Route } from '../router.js';
import { dateTime, name, nullableDateTime, object, pageOf, pageQuery, uuid } from '../schemas.js';
import type { ApiServices } from '../services.js';

const doorIds = { type: 'array', items: uuid, uniqueItems: true, maxItems: 500 } as const;
const device = object({
  id: uuid, site_id: uuid, name, enabled: { type: 'boolean' }, door_ids: doorIds, created_at: dateTime, token_rotated_at: dateTime,
});
const withToken = { ...device, properties: { ...device.properties, token: { type: 'string', description: 'shown once; only its sha256 is stored' } } };
const terminal = object({
  device_id: uuid, device_name: name, site_id: uuid, online: { type: 'boolean', description: 'false until the terminal\'s hello' },
  connected_since: dateTime, last_seen: dateTime, firmware: { type: ['string', 'null'] }, model: { type: ['string', 'null'] },
  boot: { type: ['integer', 'null'] }, clock_skew_ms: { type: ['integer', 'null'], description: 'terminal clock minus hub clock' },
  unacked: { type: 'integer', description: 'ev frames received and not yet acknowledged' },
});
const outcome = { enum: ['ok', 'failed', 'timeout', 'offline'] } as const;
const reason = { type: 'string', minLength: 1, maxLength: 500 } as const;
const commandResult = object({
  id: uuid, ok: { type: 'boolean' }, code: { type: 'string', description: 'the terminal\'s code when ok is false' },
  device_id: uuid, sent_at: dateTime, answered_at: dateTime,
});
const commandRow = object({
  id: uuid, door_id: uuid, site_id: uuid, device_id: { type: ['string', 'null'], format: 'uuid' }, action: { enum: [...COMMAND_ACTIONS] },
  duration_ms: { type: ['integer', 'null'] }, reason, actor: { type: 'string' }, requested_at: dateTime, sent_at: nullableDateTime,
  expires_at: dateTime, answered_at: nullableDateTime, outcome, code: { type: ['string', 'null'] },
});
const siteResult = object({
  site_id: uuid,
  doors: { type: 'array', items: object({
    door_id: uuid, door_code: { type: 'string' }, command_id: uuid, outcome,
    code: { type: 'string', description: 'the terminal\'s code when outcome is failed' }, device_id: uuid,
  }) },
});

const count = { type: 'integer', minimum: 0 } as const;
const accounting = object({
  device_id: uuid, since: { ...dateTime, description: 'start of this hub process: the counts are in memory, per hub, since then' },
  received: { ...count, description: 'events of answered ev frames: stored + duplicates + quarantined + spooled + busy' },
  stored: count, duplicates: count, quarantined: count,
  spooled: { ...count, description: 'acked from the local spool while PostgreSQL was unreachable (stored once it drains)' },
  busy: { ...count, description: 'answered busy (to be resent, then counted again)' },
  in_flight_frames: { ...count, description: 'ev frames not yet answered; their events are in no count yet' },
  balanced: { type: 'boolean' },
});

type Outcome = 'ok' | 'failed' | 'timeout' | 'offline';
interface Sent { id: string; outcome: Outcome; code?: string; deviceId: string | null; sentAt: number | null; answeredAt: number | null }

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function devicesRoutes({ store, engine, terminals, commands, fleet, commandTtlMs, accounting: ledger }: ApiServices): Route[] {
  /** A door of the key's organization, from memory; any other id is a 404. */
  function orgDoor(key: ApiKeyEntry, id: string): DoorEntry {
    const door = engine.door(id);
    if (!door || engine.site(door.siteId)?.orgId !== key.orgId) throw new ApiError('LINTEL_ERR_API_NOT_FOUND', 'door');
    return door;
  }

  /** Of the enabled devices driving the door, the session heard from most recently (past its hello). */
  function sessionFor(doorId: string): Socket | undefined {
    let best: Socket | undefined;
    for (const d of engine.devicesForDoor(doorId)) {
      const ws = d.enabled ? terminals.get(d.id) : undefined;
      if (!ws || ws.getUserData().state !== 'ready') continue;
      if (!best || ws.getUserData().lastSeen > best.getUserData().lastSeen) best = ws;
    }
    return best;
  }

  /** Sends one command and waits for its answer or its expiry; every command gets a door_commands row. */
  async function command(key: ApiKeyEntry, actor: string, door: DoorEntry, action: CommandAction, durationMs: number | undefined, why: string): Promise<Sent> {
    const requestedAt = Date.now();
    const expiresAt = requestedAt + commandTtlMs;
    const record = {
      orgId: key.orgId, actor, siteId: door.siteId, doorId: door.id, action, reason: why, requestedAt, expiresAt,
      durationMs: action === 'unlock' ? (durationMs ?? door.openMs) : null,
    };
    const ws = sessionFor(door.id);
    if (!ws) return remoteCommand(key, actor, door, record);
    const deviceId = ws.getUserData().device.id;
    const pending = commands.register(deviceId, expiresAt);
    await store.run('insertDoorCommand', { ...record, id: pending.id, deviceId, outcome: 'timeout' });
    // The session may have closed or been replaced (4001) while the row was written.
    const live = terminals.get(deviceId);
    let sentAt: number | null = null;
    if (live && live.getUserData().state === 'ready') {
      const frame: CmdFrame = { t: 'cmd', id: pending.id, action, door: door.code, expires_at: expiresAt };
      if (record.durationMs !== null) frame.duration_ms = record.durationMs;
      send(live, frame); // in the encoding of the session's hello (PROTOCOL section 2)
      sentAt = Date.now();
    }
    // Unsent, nothing can answer: the router resolves null at expires_at and the row says timeout.
    const r = await pending.result;
    const sent: Sent = { id: pending.id, outcome: r ? (r.ok ? 'ok' : 'failed') : 'timeout', deviceId, sentAt, answeredAt: r?.answeredAt ?? null };
    if (r?.code !== undefined) sent.code = r.code;
    await store.run('settleDoorCommand', { orgId: key.orgId, actor, id: sent.id, sentAt, answeredAt: sent.answeredAt, outcome: sent.outcome, code: sent.code ?? null });
    return sent;
  }

  /**
   * No terminal for the door on this hub: the hub that holds one (hub/fleet.ts) sends it and
   * relays the answer. Same contract: offline (409) when no hub holds one or it left meanwhile.
   */
  async function remoteCommand(key: ApiKeyEntry, actor: string, door: DoorEntry, record: { orgId: string; durationMs: number | null; expiresAt: number } & Record<string, unknown>): Promise<Sent> {
    const deviceIds = engine.devicesForDoor(door.id).filter((d) => d.enabled).map((d) => d.id);
    const frame: Omit<CmdFrame, 't' | 'id'> = { action: record.action as CmdFrame['action'], door: door.code, expires_at: record.expiresAt };
    if (record.durationMs !== null) frame.duration_ms = record.durationMs;
    const remote = await fleet.sendRemote(deviceIds, frame).catch(() => null);
    if (!remote) {
      const id = randomUUID();
      await store.run('insertDoorCommand', { ...record, id, deviceId: null, outcome: 'offline' });
      return { id, outcome: 'offline', deviceId: null, sentAt: null, answeredAt: null };
    }
    await store.run('insertDoorCommand', { ...record, id: remote.id, deviceId: remote.deviceId, outcome: 'timeout' });
    const r = await remote.result;
    const outcome: Outcome = r ? (r.offline ? 'offline' : r.ok ? 'ok' : 'failed') : 'timeout';
    const sent: Sent = { id: remote.id, outcome, deviceId: remote.deviceId, sentAt: r?.sentAt ?? null, answeredAt: r && !r.offline ? r.answeredAt : null };
    if (r?.code !== undefined) sent.code = r.code;
    await store.run('settleDoorCommand', { orgId: key.orgId, actor, id: sent.id, sentAt: sent.sentAt, answeredAt: sent.answeredAt, outcome, code: sent.code ?? null });
    return sent;
  }

  return [
    {
      method: 'GET', path: '/v1/devices', tag: 'devices', role: 'viewer', summary: 'List devices, optionally of one site',
      query: object({ ...pageQuery, site: uuid }), response: pageOf(device),
      handle: async ({ key, query }) => ({ body: await store.run('listDevices', { orgId: key.orgId, ...query }) }),
    },
    {
      method: 'POST', path: '/v1/devices', tag: 'devices', role: 'admin', status: 201,
      summary: 'Provision a device; its token is in this answer only',
      body: object({ site_id: uuid, name, door_ids: doorIds }, ['site_id', 'name']), response: withToken,
      handle: async ({ key, actor, body }) => ({
        body: await store.mutate('createDevice', { orgId: key.orgId, actor, siteId: body.site_id, name: body.name, doorIds: body.door_ids }),
      }),
    },
    {
      method: 'GET', path: '/v1/devices/{id}', tag: 'devices', role: 'viewer', summary: 'One device', response: device,
      handle: async ({ key, params }) => ({ body: await store.run('getDevice', { orgId: key.orgId, id: params.id }) }),
    },
    {
      method: 'PATCH', path: '/v1/devices/{id}', tag: 'devices', role: 'admin', summary: 'Rename a device or set the doors it drives (doors of its site)',
      body: { ...object({ name, door_ids: doorIds }), minProperties: 1 }, response: device,
      handle: async ({ key, actor, params, body }) => ({
        body: await store.mutate('updateDevice', { orgId: key.orgId, actor, id: params.id, name: body.name, doorIds: body.door_ids }),
      }),
    },
    {
      method: 'POST', path: '/v1/devices/{id}/rotate-token', tag: 'devices', role: 'admin',
      summary: 'Issue a new token (shown once); the old one stops working at once and an open session is closed with 1008',
      response: withToken,
      handle: async ({ key, actor, params }) => ({ body: await store.mutate('rotateDeviceToken', { orgId: key.orgId, actor, id: params.id }) }),
    },
    {
      method: 'POST', path: '/v1/devices/{id}/disable', tag: 'devices', role: 'admin',
      summary: 'Disable a device: its open session is closed with 4003 and its upgrades are refused with 403', response: device,
      handle: async ({ key, actor, params }) => ({ body: await store.mutate('setDeviceEnabled', { orgId: key.orgId, actor, id: params.id, enabled: false }) }),
    },
    {
      method: 'POST', path: '/v1/devices/{id}/enable', tag: 'devices', role: 'admin', summary: 'Enable a disabled device', response: device,
      handle: async ({ key, actor, params }) => ({ body: await store.mutate('setDeviceEnabled', { orgId: key.orgId, actor, id: params.id, enabled: true }) }),
    },
    {
      // In memory, of this hub process only (hub/accounting.ts); a device of another org is a 404.
      method: 'GET', path: '/v1/devices/{id}/accounting', tag: 'devices', role: 'viewer',
      summary: 'Loss accounting of the device\'s events on this hub since it started: received = stored + duplicates + quarantined + busy',
      response: accounting,
      handle: async ({ key, params }) => {
        const d = engine.deviceById(params.id!);
        if (!d || d.orgId !== key.orgId) throw new ApiError('LINTEL_ERR_API_NOT_FOUND', 'device');
        const c = ledger.get(d.id);
        return { body: {
          device_id: d.id, since: iso(ledger.since), received: c.received, stored: c.stored, duplicates: c.duplicates, quarantined: c.quarantined,
          spooled: c.spooled, busy: c.busy, in_flight_frames: c.inFlightFrames, balanced: balanced(c),
        } };
      },
    },
    {
      // In memory, of this hub only: a device missing here may be connected to another hub, so
      // offline devices are not listed (GET /v1/devices lists them all).
      method: 'GET', path: '/v1/terminals', tag: 'terminals', role: 'viewer', summary: 'Terminals connected to this hub now',
      query: object({ site: uuid }), response: object({ items: { type: 'array', items: terminal } }, ['items']),
      handle: async ({ key, query }) => {
        const items = terminals.list()
          .filter((s) => s.state !== 'closed' && s.device.orgId === key.orgId && (query.site === undefined || s.device.siteId === query.site))
          .sort((a, b) => a.device.name.localeCompare(b.device.name) || a.device.id.localeCompare(b.device.id))
          .map((s) => ({
            device_id: s.device.id, device_name: s.device.name, site_id: s.device.siteId, online: s.state === 'ready',
            connected_since: iso(s.connectedAt), last_seen: iso(s.lastSeen), firmware: s.fw, model: s.model, boot: s.boot,
            clock_skew_ms: s.skewMs, unacked: s.inflightFrames,
          }));
        return { body: { items } };
      },
    },
    {
      method: 'POST', path: '/v1/doors/{id}/commands', tag: 'commands', role: 'operator',
      summary: 'Send a command to the door\'s terminal and wait for its answer (at most LINTEL_COMMAND_TTL_MS)',
      body: object({
        action: { enum: [...COMMAND_ACTIONS] },
        duration_ms: { type: 'integer', minimum: 100, maximum: 600000, description: 'unlock only; default the door\'s open_ms' },
        reason,
      }, ['action', 'reason']),
      response: commandResult,
      handle: async ({ key, actor, params, body }) => {
        const door = orgDoor(key, params.id!);
        const action = body.action as CommandAction;
        if (body.duration_ms !== undefined && action !== 'unlock') {
          throw new ApiError('LINTEL_ERR_API_VALIDATION', undefined, [{ field: 'body.duration_ms', problem: 'only an unlock has a duration' }]);
        }
        // The hub's flag is set whether or not a terminal is reachable: its own decisions deny
        // from now on, and an offline door is the one most in need of it.
        const flag = action === 'lockdown' || action === 'release';
        if (flag) await store.mutate('setDoorsLockedDown', { orgId: key.orgId, actor, doorId: door.id, lockedDown: action === 'lockdown' });
        const sent = await command(key, actor, door, action, body.duration_ms as number | undefined, body.reason as string);
        const flagNote = flag ? `; the hub's locked_down flag is ${action === 'lockdown' ? 'set' : 'cleared'} all the same` : '';
        if (sent.outcome === 'offline') throw new ApiError('LINTEL_ERR_COMMAND_NO_TERMINAL', `command ${sent.id}${flagNote}`);
        if (sent.outcome === 'timeout') throw new ApiError('LINTEL_ERR_COMMAND_TIMEOUT', `command ${sent.id} to device ${sent.deviceId}${flagNote}`);
        const res: Record<string, unknown> = { id: sent.id, ok: sent.outcome === 'ok' };
        if (sent.code !== undefined) res.code = sent.code;
        return { body: { ...res, device_id: sent.deviceId, sent_at: iso(sent.sentAt), answered_at: iso(sent.answeredAt) } };
      },
    },
    {
      method: 'GET', path: '/v1/doors/{id}/commands', tag: 'commands', role: 'viewer', summary: 'The door\'s commands, newest first',
      query: object(pageQuery), response: pageOf(commandRow),
      handle: async ({ key, params, query }) => ({ body: await store.run('listDoorCommands', { orgId: key.orgId, doorId: params.id, ...query }) }),
    },
    ...(['lockdown', 'release'] as const).map((action): Route => ({
      method: 'POST', path: `/v1/sites/{id}/${action}`, tag: 'commands', role: 'operator',
      summary: action === 'lockdown'
        ? 'Lock down every door of a site: set each door\'s locked_down flag and command its terminal, all at once'
        : 'Release every door of a site: clear each door\'s flag and command its terminal, all at once',
      body: object({ reason }, ['reason']), response: siteResult,
      handle: async ({ key, actor, params, body }) => {
        if (engine.site(params.id!)?.orgId !== key.orgId) throw new ApiError('LINTEL_ERR_API_NOT_FOUND', 'site');
        const flagged = await store.mutate<{ id: string }[]>('setDoorsLockedDown', { orgId: key.orgId, actor, siteId: params.id, lockedDown: action === 'lockdown' });
        const doors = flagged.map((d) => engine.door(d.id)).filter((d): d is DoorEntry => d !== undefined);
        const results = await Promise.all(doors.map(async (door) => {
          const sent = await command(key, actor, door, action, undefined, body.reason as string);
          const r: Record<string, unknown> = { door_id: door.id, door_code: door.code, command_id: sent.id, outcome: sent.outcome };
          if (sent.code !== undefined) r.code = sent.code;
          if (sent.deviceId) r.device_id = sent.deviceId;
          return r;
        }));
        return { body: { site_id: params.id, doors: results } };
      },
    })),
  ];
}
