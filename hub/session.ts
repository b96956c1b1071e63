// One terminal's session: what the hub knows of it, and the only ways frames leave for it.
// Every send goes through here, so a closed socket is never touched and a terminal that stops
// reading is closed instead of buffering without bound.
import { encodeFrame } from '../protocol/codec.js';
import { BAD_FRAME_LIMIT, BAD_FRAME_WINDOW_MS, CLOSE, type Encoding, type HubFrame } from '../protocol/frames.js';
import { ERRORS, type ErrorCode } from '../protocol/errors.js';
import type { DeviceEntry } from './access.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { WebSocket } from './uws.js';

export interface SessionData {
  id: number;
  device: DeviceEntry;
  tokenHash: string;
  remote: string;
  connectedAt: number;
  lastSeen: number;
  state: 'awaiting_hello' | 'ready' | 'closed';
  encoding: Encoding; // of the hello: unsolicited frames use it (PROTOCOL section 2)
  boot: number | null;
  fw: string | null;
  model: string | null;
  skewMs: number | null;
  badFrameTimes: number[];
  helloTimer: NodeJS.Timeout | undefined;
  inflightFrames: number;
  /** Generation of this session's claim in device_sessions (hub/fleet.ts), once the store answered. */
  fleetGen?: number;
  log: Logger;
}

export type Socket = WebSocket<SessionData>;

export interface SessionContext { metrics: Metrics; log: Logger }

const BACKPRESSURE_DROPPED = 2;

export function send(ws: Socket, frame: HubFrame, encoding?: Encoding): void {
  const s = ws.getUserData();
  if (s.state === 'closed') return;
  const enc = encoding ?? s.encoding;
  const data = encodeFrame(frame, enc);
  let result = 0;
  ws.cork(() => { result = ws.send(data, enc === 'msgpack'); });
  if (result === BACKPRESSURE_DROPPED) close(ws, CLOSE.saturated, 'LINTEL_ERR_SESSION_SLOW_CONSUMER');
}

/** Closes with a protocol close code; the close handler does the cleanup. */
export function close(ws: Socket, code: number, reason: ErrorCode): void {
  const s = ws.getUserData();
  if (s.state === 'closed') return;
  s.state = 'closed';
  s.log.info({ code, reason }, 'closing terminal session');
  ws.end(code, ERRORS[reason].message);
}

/** PROTOCOL section 4: error bad_frame; 10 within a minute close the session with 4000. */
export function badFrame(ws: Socket, code: ErrorCode, msg: string, encoding: Encoding, ctx: SessionContext): void {
  const s = ws.getUserData();
  ctx.metrics.badFrames.inc({ code });
  s.log.warn({ code, msg }, 'bad frame');
  const now = Date.now();
  s.badFrameTimes = s.badFrameTimes.filter((t) => now - t < BAD_FRAME_WINDOW_MS);
  s.badFrameTimes.push(now);
  send(ws, { t: 'error', code: 'bad_frame', msg, err: code } as HubFrame, encoding);
  if (s.badFrameTimes.length >= BAD_FRAME_LIMIT) close(ws, CLOSE.protocolViolation, 'LINTEL_ERR_SESSION_TOO_MANY_BAD_FRAMES');
}
