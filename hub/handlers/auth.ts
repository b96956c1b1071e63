// auth -> auth_res, decided from memory alone (PROTOCOL section 5), then recorded as an access
// event through the same durable pipeline as terminal events.
import type { AuthFrame, Encoding } from '../../protocol/frames.js';
import type { HubEventItem } from '../../protocol/tasks.js';
import type { AccessEngine } from '../access.js';
import { send, type SessionContext, type Socket } from '../session.js';

export interface AuthContext extends SessionContext {
  engine: AccessEngine;
  hubBoot: number;
  nextHubSeq(): number;
  record(item: HubEventItem): void;
}

export function handleAuth(ws: Socket, frame: AuthFrame, encoding: Encoding, ctx: AuthContext): void {
  const s = ws.getUserData();
  const now = Date.now();
  const started = performance.now();
  const d = ctx.engine.decide(s.device, frame.cred, frame.door, now);
  ctx.metrics.decisionSeconds.observe((performance.now() - started) / 1000);
  ctx.metrics.decisions.inc({ reason: d.reason });
  send(ws, d.ok
    ? { t: 'auth_res', id: frame.id, ok: true, reason: d.reason, person: d.personExternalId ?? undefined, open_ms: d.door?.openMs }
    : { t: 'auth_res', id: frame.id, ok: false, reason: d.reason }, encoding);
  ctx.record({
    kind: 'hub', deviceId: s.device.id, orgId: s.device.orgId, siteId: s.device.siteId, boot: ctx.hubBoot, seq: ctx.nextHubSeq(),
    ts: now, credHash: d.credHash, doorId: d.door?.id ?? null, personId: d.personId, granted: d.ok, reason: d.reason, rule: d.rule, rid: frame.id,
  });
}
