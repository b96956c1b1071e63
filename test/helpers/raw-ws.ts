// A bare terminal socket for conformance tests: sends only what it is told and records every
// frame with its WebSocket type (binary or text), unlike the reference Terminal.
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { decodeFrame, encodeFrame } from '../../protocol/codec.js';
import type { Encoding } from '../../protocol/frames.js';

export interface Received { binary: boolean; frame: Record<string, unknown> }

/** A bare terminal socket: sends only what it is told, records every frame with its WebSocket type. */
export function openRaw(url: string, token: string) {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
  const received: Received[] = [];
  const events = new EventEmitter();
  let cursor = 0;
  ws.on('message', (data: Buffer, binary: boolean) => {
    received.push({ binary, frame: decodeFrame(new Uint8Array(data), binary ? 'msgpack' : 'json') });
    events.emit('frame');
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => { events.emit('frame'); resolve(code); }));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  const raw = {
    received, closed, opened,
    send(data: Uint8Array | string) { ws.send(data, { binary: typeof data !== 'string' }); },
    sendFrame(frame: Record<string, unknown>, encoding: Encoding) { raw.send(encodeFrame(frame, encoding)); },
    /** The next frame of type `type` after the last one taken. */
    next(type: string, timeoutMs = 10_000): Promise<Received> {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (let i = cursor; i < received.length; i++) {
            if (received[i]!.frame.t === type) {
              cursor = i + 1;
              done();
              resolve(received[i]!);
              return;
            }
          }
          if (ws.readyState === WebSocket.CLOSED) { done(); reject(new Error(`closed while waiting for ${type}`)); }
        };
        const timer = setTimeout(() => { done(); reject(new Error(`no ${type} within ${timeoutMs} ms`)); }, timeoutMs);
        const done = () => { clearTimeout(timer); events.off('frame', check); };
        events.on('frame', check);
        check();
      });
    },
    async hello(encoding: Encoding, boot = 1): Promise<Received> {
      await opened;
      raw.sendFrame({ t: 'hello', boot, time: Date.now() }, encoding);
      return raw.next('welcome');
    },
    terminate() { ws.terminate(); },
  };
  return raw;
}
