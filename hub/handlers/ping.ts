// ping -> pong with server time (PROTOCOL section 7); the terminal's clock skew is tracked.
import type { Encoding, PingFrame } from '../../protocol/frames.js';
import { send, type SessionContext, type Socket } from '../session.js';

export function handlePing(ws: Socket, frame: PingFrame, encoding: Encoding, ctx: SessionContext): void {
  const s = ws.getUserData();
  const now = Date.now();
  s.skewMs = frame.time - now;
  ctx.metrics.clockSkew.observe(Math.abs(s.skewMs) / 1000);
  send(ws, { t: 'pong', id: frame.id, time: frame.time, server_time: now }, encoding);
}
