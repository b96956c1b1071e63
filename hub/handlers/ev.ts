// ev -> ack / busy / error (PROTOCOL section 4). The frame goes to the worker pool still encoded;
// the event loop decodes it only on the saturation path, where busy must name the seqs.
import { decodeFrame } from '../../protocol/codec.js';
import { CLOSE, type Encoding } from '../../protocol/frames.js';
import type { ErrorCode } from '../../protocol/errors.js';
import type { FrameOutcome } from '../../protocol/tasks.js';
import type { Ingest } from '../ingest.js';
import { badFrame, close, send, type SessionContext, type Socket } from '../session.js';

export interface EvContext extends SessionContext { ingest: Ingest; busyRetryMs: number }

export function handleEv(ws: Socket, message: ArrayBuffer, encoding: Encoding, ctx: EvContext): void {
  const s = ws.getUserData();
  const device = { deviceId: s.device.id, orgId: s.device.orgId, siteId: s.device.siteId };
  s.inflightFrames++;
  const accepted = ctx.ingest.submitFrame(device, encoding, message, (outcome) => {
    s.inflightFrames--;
    answer(ws, outcome, encoding, ctx);
  });
  if (!accepted) {
    s.inflightFrames--;
    ctx.metrics.framesBusy.inc({ reason: 'saturated' });
    busyFromFrame(ws, new Uint8Array(message), encoding, ctx);
  }
}

function answer(ws: Socket, outcome: FrameOutcome, encoding: Encoding, ctx: EvContext): void {
  if (ws.getUserData().state === 'closed') return; // stored or not, the next welcome's last_seq tells
  if (outcome.ok) {
    send(ws, outcome.q.length ? { t: 'ack', boot: outcome.boot, seqs: outcome.seqs, q: outcome.q } : { t: 'ack', boot: outcome.boot, seqs: outcome.seqs }, encoding);
  } else if (outcome.seqs && outcome.boot >= 0) {
    ctx.metrics.framesBusy.inc({ reason: outcome.code === 'busy' ? 'store_unavailable' : 'store_error' });
    send(ws, { t: 'busy', boot: outcome.boot, seqs: outcome.seqs, retry_ms: ctx.busyRetryMs }, encoding);
  } else if (outcome.seqs) {
    // The worker died holding this frame: no seqs to name. Reconnecting makes the terminal resend
    // everything above last_seq, which covers the frame.
    close(ws, CLOSE.saturated, 'LINTEL_ERR_HUB_SATURATED');
  } else {
    badFrame(ws, outcome.code as ErrorCode, outcome.msg, encoding, ctx);
  }
}

function busyFromFrame(ws: Socket, bytes: Uint8Array, encoding: Encoding, ctx: EvContext): void {
  let frame: Record<string, unknown>;
  try {
    frame = decodeFrame(bytes, encoding);
  } catch (err) {
    return badFrame(ws, 'LINTEL_ERR_FRAME_UNDECODABLE', (err as Error).message, encoding, ctx);
  }
  const events = Array.isArray(frame.events) ? (frame.events as { seq?: unknown }[]) : [];
  const seqs = events.map((e) => e?.seq).filter((x): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x > 0);
  const boot = typeof frame.boot === 'number' ? frame.boot : 0;
  ctx.ingest.countBusy({ deviceId: ws.getUserData().device.id, orgId: ws.getUserData().device.orgId, siteId: ws.getUserData().device.siteId }, seqs.length); // loss accounting: received and answered busy
  send(ws, { t: 'busy', boot, seqs, retry_ms: ctx.busyRetryMs }, encoding);
}
