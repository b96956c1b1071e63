// The terminal endpoint (PROTOCOL sections 1-8): authentication at the upgrade from the in-memory
// device table, one session per device, and a dispatcher that routes each frame by its `t` to one
// handler. Frame-level faults answer that terminal alone.
import { createHash } from 'node:crypto';
import { decodeFrame, FrameDecodeError } from '../protocol/codec.js';
import { CLOSE, HELLO_TIMEOUT_MS, MAX_FRAME_BYTES, PROTOCOL_PATH, type Encoding } from '../protocol/frames.js';
import { ERRORS, type ErrorCode, type ErrorSpec } from '../protocol/errors.js';
import { peekJsonType, peekMsgpackType } from '../protocol/peek.js';
import { compileFrameValidators, describeErrors, type FrameType } from '../protocol/schemas.js';
import type { AccessEngine, DeviceEntry } from './access.js';
import type { Admission } from './admission.js';
import type { CommandRouter } from './commands.js';
import { handleAuth, type AuthContext } from './handlers/auth.js';
import { handleCmdRes } from './handlers/cmd-res.js';
import { handleEv, type EvContext } from './handlers/ev.js';
import { handleHello, type HelloContext } from './handlers/hello.js';
import { handlePing } from './handlers/ping.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { badFrame, close, type SessionData, type Socket } from './session.js';
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocketBehavior, us_socket_context_t } from './uws.js';

export interface TerminalOptions { heartbeatS: number; maxConnections: number; maxBackpressure: number; busyRetryMs: number; retryAfterS: number }
export interface TerminalDeps extends Omit<AuthContext & HelloContext & EvContext, 'heartbeatS' | 'busyRetryMs'> {
  engine: AccessEngine;
  admission: Admission;
  commands: CommandRouter;
  metrics: Metrics;
  log: Logger;
  /** A session that said hello closed (hub/fleet.ts releases its claim). */
  sessionClosed?(ws: Socket): void;
}

const validators = compileFrameValidators();
const RECEIVE_LIMIT_BYTES = 4 * MAX_FRAME_BYTES;
const tokenHash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

function bearer(header: string): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

export function createTerminalEndpoint(app: TemplatedApp, opts: TerminalOptions, deps: TerminalDeps) {
  const { metrics, log } = deps;
  const sessions = new Map<string, Socket>(); // by device id
  let nextId = 1;
  let draining = false;
  let upgrading = 0;
  const ctx = { ...deps, heartbeatS: opts.heartbeatS, busyRetryMs: opts.busyRetryMs };

  function refuse(res: HttpResponse, code: ErrorCode, outcome: string, retryAfterS = opts.retryAfterS) {
    metrics.connections.inc({ outcome });
    const spec: ErrorSpec = ERRORS[code];
    res.cork(() => {
      res.writeStatus(`${spec.status ?? 400}`);
      if (spec.status === 503) res.writeHeader('Retry-After', String(retryAfterS));
      res.writeHeader('Content-Type', 'application/json').end(JSON.stringify({ error: { code, message: spec.message } }), true);
    });
  }

  const behavior: WebSocketBehavior<SessionData> = {
    // uWS drops a frame over maxPayloadLength with no close frame (1006), so it takes a little
    // more and message() closes with 1009 (PROTOCOL section 8); past RECEIVE_LIMIT_BYTES it is 1006.
    maxPayloadLength: RECEIVE_LIMIT_BYTES,
    idleTimeout: Math.min(960, Math.max(8, Math.ceil((2 * opts.heartbeatS) / 4) * 4)), // PROTOCOL section 7: silent for 2 x heartbeat_s
    sendPingsAutomatically: true,
    maxBackpressure: opts.maxBackpressure,
    closeOnBackpressureLimit: 0, // session.send closes a terminal that stops reading, with 1013

    upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t) {
      // Everything from req is read synchronously: it is invalid after this callback.
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const token = bearer(req.getHeader('authorization')) ?? (req.getQuery('token') || null);
      const remote = Buffer.from(res.getRemoteAddressAsText()).toString();
      if (draining) return refuse(res, 'LINTEL_ERR_HUB_DRAINING', 'draining');
      if (!token) return refuse(res, 'LINTEL_ERR_AUTH_NO_TOKEN', 'no_token');
      const hash = tokenHash(token);
      const device = deps.engine.deviceByTokenHash(hash);
      if (!device) return refuse(res, 'LINTEL_ERR_AUTH_BAD_TOKEN', 'bad_token');
      if (!device.enabled) return refuse(res, 'LINTEL_ERR_AUTH_DEVICE_DISABLED', 'disabled');
      // A device that has a session replaces it (4001) and adds none, so a full hub still lets it
      // in: its half-dead old socket must not lock it out (PROTOCOL section 1).
      if (!sessions.has(device.id) && sessions.size + upgrading >= opts.maxConnections) return refuse(res, 'LINTEL_ERR_HUB_SATURATED', 'saturated');
      // Reconnect storms are admitted at a bounded rate (LINTEL_ADMIT_PER_S); the same exemption.
      if (!sessions.has(device.id) && !deps.admission.tryAdmit()) return refuse(res, 'LINTEL_ERR_HUB_SATURATED', 'saturated', deps.admission.retryAfterS());
      metrics.connections.inc({ outcome: 'accepted' });
      const now = Date.now();
      const data: SessionData = {
        id: nextId++, device, tokenHash: hash, remote, connectedAt: now, lastSeen: now, state: 'awaiting_hello', encoding: 'json',
        boot: null, fw: null, model: null, skewMs: null, badFrameTimes: [], helloTimer: undefined, inflightFrames: 0,
        log: log.child({ device: device.id }),
      };
      res.upgrade(data, key, protocol, extensions, context);
    },

    open(ws: Socket) {
      const s = ws.getUserData();
      const older = sessions.get(s.device.id);
      sessions.set(s.device.id, ws);
      // One session per device: the newer wins, so a half-dead socket never locks a terminal out.
      if (older) close(older, CLOSE.replaced, 'LINTEL_ERR_SESSION_REPLACED');
      s.helloTimer = setTimeout(() => close(ws, CLOSE.protocolViolation, 'LINTEL_ERR_SESSION_NO_HELLO'), HELLO_TIMEOUT_MS);
      s.log.info({ remote: s.remote }, 'terminal connected');
    },

    message(ws: Socket, message: ArrayBuffer, isBinary: boolean) {
      const s = ws.getUserData();
      if (s.state === 'closed') return;
      if (message.byteLength > MAX_FRAME_BYTES) return close(ws, CLOSE.tooLarge, 'LINTEL_ERR_FRAME_TOO_LARGE');
      s.lastSeen = Date.now();
      const encoding: Encoding = isBinary ? 'msgpack' : 'json';
      const bytes = new Uint8Array(message);
      const peek = isBinary ? peekMsgpackType(bytes) : peekJsonType(bytes);
      if ('error' in peek) {
        metrics.framesReceived.inc({ type: 'invalid' });
        if (s.state === 'awaiting_hello') return close(ws, CLOSE.protocolViolation, 'LINTEL_ERR_SESSION_NO_HELLO');
        return badFrame(ws, peek.error === 'no_type' ? 'LINTEL_ERR_FRAME_NO_TYPE' : 'LINTEL_ERR_FRAME_UNDECODABLE', `frame ${peek.error === 'no_type' ? 'has no string field t' : `is not ${encoding === 'msgpack' ? 'MessagePack' : 'JSON'}`}`, encoding, ctx);
      }
      const known = Object.hasOwn(validators, peek.t); // not `in`: 'constructor' or 'hasOwnProperty' are no frame types
      metrics.framesReceived.inc({ type: known ? peek.t : 'unknown' });
      if (s.state === 'awaiting_hello' && peek.t !== 'hello') return close(ws, CLOSE.protocolViolation, 'LINTEL_ERR_SESSION_NO_HELLO');
      if (!known) return badFrame(ws, 'LINTEL_ERR_FRAME_UNKNOWN_TYPE', `unknown frame type ${JSON.stringify(peek.t.slice(0, 32))}`, encoding, ctx);
      if (peek.t === 'ev') return handleEv(ws, message, encoding, ctx);

      let frame: Record<string, unknown>;
      try {
        frame = decodeFrame(bytes, encoding);
      } catch (err) {
        if (!(err instanceof FrameDecodeError)) throw err;
        if (s.state === 'awaiting_hello') return close(ws, CLOSE.protocolViolation, 'LINTEL_ERR_SESSION_NO_HELLO');
        return badFrame(ws, 'LINTEL_ERR_FRAME_UNDECODABLE', err.message, encoding, ctx);
      }
      const type = peek.t as FrameType;
      const validate = validators[type];
      if (!validate(frame)) {
        if (type === 'hello' && s.state === 'awaiting_hello') return close(ws, CLOSE.protocolViolation, 'LINTEL_ERR_SESSION_NO_HELLO');
        return badFrame(ws, 'LINTEL_ERR_FRAME_INVALID', `${type}: ${describeErrors(validate)}`, encoding, ctx);
      }
      switch (type) {
        case 'hello':
          if (s.state !== 'awaiting_hello') return badFrame(ws, 'LINTEL_ERR_SESSION_DUPLICATE_HELLO', 'hello already received', encoding, ctx);
          return void handleHello(ws, frame as never, encoding, ctx);
        case 'auth': return handleAuth(ws, frame as never, encoding, ctx);
        case 'ping': return handlePing(ws, frame as never, encoding, ctx);
        case 'cmd_res': return handleCmdRes(ws, frame as never, deps.commands);
      }
    },

    // Only cleanup: never send from here.
    close(ws: Socket, code: number) {
      const s = ws.getUserData();
      const wasReady = s.boot !== null;
      s.state = 'closed';
      clearTimeout(s.helloTimer);
      if (sessions.get(s.device.id) === ws) sessions.delete(s.device.id);
      if (wasReady) { metrics.connectedTerminals.dec(); deps.sessionClosed?.(ws); }
      metrics.closes.inc({ code: String(code) });
      s.log.info({ code }, 'terminal disconnected');
    },
  };

  app.ws(PROTOCOL_PATH, behavior);

  return {
    get count() { return sessions.size; },
    get(deviceId: string): Socket | undefined { return sessions.get(deviceId); },
    list(): SessionData[] { return [...sessions.values()].map((ws) => ws.getUserData()); },
    /** After a state reload: close sessions whose device was disabled (4003) or whose token changed (1008). */
    enforce(lookup: (id: string) => DeviceEntry | undefined) {
      for (const ws of [...sessions.values()]) {
        const s = ws.getUserData();
        const now = lookup(s.device.id);
        if (!now || now.tokenHash !== s.tokenHash) close(ws, CLOSE.tokenRevoked, 'LINTEL_ERR_SESSION_TOKEN_REVOKED');
        else if (!now.enabled) close(ws, CLOSE.deviceDisabled, 'LINTEL_ERR_SESSION_DEVICE_DISABLED');
        else s.device = now; // doors, site or zone may have changed
      }
    },
    /** Shutdown: refuse upgrades from now on and close every session with 1001. */
    closeAll() {
      draining = true;
      for (const ws of [...sessions.values()]) close(ws, CLOSE.goingAway, 'LINTEL_ERR_HUB_DRAINING');
    },
    set draining(v: boolean) { draining = v; },
  };
}

export type TerminalEndpoint = ReturnType<typeof createTerminalEndpoint>;
