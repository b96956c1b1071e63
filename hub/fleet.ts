// Several hubs on one PostgreSQL (issue P6): what they tell each other travels on PostgreSQL's
// LISTEN/NOTIFY (channel lintel_fleet), through the control worker; no broker of our own.
//
// - One session per device across hubs: after hello a hub claims the device in device_sessions;
//   each claim draws a generation from one sequence and is announced. A hub that holds an older
//   session for the device (lower generation) closes it with 4001, as one hub does locally.
// - Door commands: a command for a device whose session is on another live hub goes there as a
//   NOTIFY; that hub sends it to the terminal and NOTIFYs the cmd_res back (or `offline`).
// Access state changes need nothing here: every hub LISTENs on lintel_state already.
import type { FleetMessage } from '../protocol/tasks.js';
import { CLOSE } from '../protocol/frames.js';
import type { CommandResult, CommandRouter } from './commands.js';
import type { Control } from './control.js';
import type { Logger } from './log.js';
import { close, send, type Socket } from './session.js';

export interface FleetDeps {
  control: Pick<Control, 'claimSession' | 'releaseSession' | 'whereIs' | 'notifyFleet'>;
  commands: CommandRouter;
  session(deviceId: string): Socket | undefined;
  log: Logger;
}

/** Remote claims seen recently, so a claim of ours that returns after a newer one still loses. */
const REMEMBER_CLAIMS_MS = 60_000;

export function createFleet(opts: { hubId: string }, deps: FleetDeps) {
  const { control, commands, log } = deps;
  const me = opts.hubId;
  const remoteClaims = new Map<string, { gen: number; at: number }>();
  const notify = (m: FleetMessage) => control.notifyFleet(m).catch((err) => log.warn({ err, t: m.t }, 'fleet message not sent'));

  function closeIfOlder(ws: Socket, gen: number, by: string): void {
    const s = ws.getUserData();
    if (s.state === 'closed' || s.fleetGen === undefined || s.fleetGen >= gen) return;
    s.log.info({ hub: by, gen, ours: s.fleetGen }, 'device reconnected on another hub; closing this session');
    close(ws, CLOSE.replaced, 'LINTEL_ERR_SESSION_REPLACED');
  }

  function onCommand(m: Extract<FleetMessage, { t: 'cmd' }>): void {
    const ws = deps.session(m.device);
    if (!ws || ws.getUserData().state !== 'ready') {
      void notify({ t: 'cmd_res', from: me, to: m.from, id: m.id, ok: false, offline: true });
      return;
    }
    // Relayed: the terminal's cmd_res (same id) resolves this, and its answer goes back to m.from.
    const pending = commands.register(m.device, m.frame.expires_at, m.id);
    send(ws, { t: 'cmd', id: m.id, ...m.frame });
    const sentAt = Date.now();
    void pending.result.then((r) => {
      if (r) void notify({ t: 'cmd_res', from: me, to: m.from, id: m.id, ok: r.ok, ...(r.code !== undefined ? { code: r.code } : {}), sent_at: sentAt, answered_at: r.answeredAt });
    });
  }

  return {
    /** A message from the lintel_fleet channel. */
    receive(m: FleetMessage): void {
      if (m.from === me) return;
      switch (m.t) {
        case 'session': {
          const now = Date.now();
          remoteClaims.set(m.device, { gen: m.gen, at: now });
          if (remoteClaims.size > 10_000) for (const [d, c] of remoteClaims) if (now - c.at > REMEMBER_CLAIMS_MS) remoteClaims.delete(d);
          const ws = deps.session(m.device);
          if (ws) closeIfOlder(ws, m.gen, m.from);
          return;
        }
        case 'cmd':
          if (m.to === me) onCommand(m);
          return;
        case 'cmd_res':
          if (m.to === me) commands.settle(m.id, m.offline ? null : { ok: m.ok, code: m.code, answeredAt: m.answered_at ?? Date.now(), sentAt: m.sent_at }, m.offline === true);
          return;
      }
    },

    /** After hello: claim the device for this hub; a newer claim elsewhere closes this session. */
    claim(ws: Socket): void {
      const s = ws.getUserData();
      control.claimSession(s.device.id, me).then((gen) => {
        s.fleetGen = gen;
        const seen = remoteClaims.get(s.device.id);
        if (seen && Date.now() - seen.at < REMEMBER_CLAIMS_MS) closeIfOlder(ws, seen.gen, 'another hub');
      }, (err) => s.log.warn({ err }, 'session claim failed (store unavailable?); this session is unique on this hub only'));
    },

    /** The session closed: forget the claim unless a newer one replaced it. */
    release(ws: Socket): void {
      const s = ws.getUserData();
      if (s.fleetGen !== undefined) control.releaseSession(s.device.id, me, s.fleetGen).catch(() => {});
    },

    /**
     * A command for one of `deviceIds`, none connected here: sends it to the live hub that holds
     * the most recent of their sessions. Null when no hub does (the API answers 409).
     */
    async sendRemote(deviceIds: string[], frame: Extract<FleetMessage, { t: 'cmd' }>['frame']): Promise<{ deviceId: string; id: string; result: Promise<CommandResult | null> } | null> {
      const where = await control.whereIs(deviceIds, me);
      if (!where) return null;
      const pending = commands.register(where.deviceId, frame.expires_at);
      await control.notifyFleet({ t: 'cmd', from: me, to: where.hubId, id: pending.id, device: where.deviceId, frame });
      return { deviceId: where.deviceId, id: pending.id, result: pending.result };
    },
  };
}

export type Fleet = ReturnType<typeof createFleet>;
