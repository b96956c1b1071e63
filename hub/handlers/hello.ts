// hello -> welcome (PROTOCOL section 3). last_seq comes from the store through the control pool.
import { MAX_EVENTS_PER_FRAME, type Encoding, type HelloFrame } from '../../protocol/frames.js';
import { send, type SessionContext, type Socket } from '../session.js';

export interface HelloContext extends SessionContext {
  heartbeatS: number;
  lastSeq(deviceId: string, boot: number): Promise<number>;
  /** The session is ready (welcome sent): claim the device across hubs. */
  sessionReady?(ws: Socket): void;
}

export async function handleHello(ws: Socket, frame: HelloFrame, encoding: Encoding, ctx: HelloContext): Promise<void> {
  const s = ws.getUserData();
  clearTimeout(s.helloTimer);
  s.helloTimer = undefined;
  s.encoding = encoding;
  s.boot = frame.boot;
  s.fw = frame.fw ?? null;
  s.model = frame.model ?? null;
  s.skewMs = frame.time - Date.now();
  ctx.metrics.clockSkew.observe(Math.abs(s.skewMs) / 1000);
  s.state = 'ready';
  let lastSeq = 0;
  try {
    lastSeq = await ctx.lastSeq(s.device.id, frame.boot);
  } catch (err) {
    // Without the store the terminal is told 0 and resends what it holds: duplicates are harmless.
    s.log.warn({ err }, 'last_seq unavailable; welcome says 0');
  }
  if (ws.getUserData().state === 'closed') return; // closed while the store answered
  send(ws, {
    t: 'welcome', device: s.device.id, site_tz: s.device.siteTz, server_time: Date.now(), last_seq: lastSeq,
    heartbeat_s: ctx.heartbeatS, max_batch: MAX_EVENTS_PER_FRAME,
  });
  ctx.metrics.connectedTerminals.inc();
  ctx.sessionReady?.(ws);
  s.log.info({ boot: frame.boot, lastSeq, fw: s.fw, skewMs: s.skewMs }, 'terminal session started');
}
