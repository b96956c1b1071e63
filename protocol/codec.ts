// LTP/1 frame encoding (PROTOCOL section 2): binary frames are MessagePack, text frames JSON.
import { Packr, Unpackr } from 'msgpackr';
import type { Encoding, HubFrame, TerminalFrame } from './frames.js';

// Plain maps as plain objects, no record extension, 64-bit integers as numbers (a seq past
// 2^53 fails validation instead of turning into a BigInt deep inside the store). No structured
// clone references (extensions 0x69/0x70): they build cycles, and an array that holds itself a
// thousand times, which every later walk of the frame follows without end.
const packr = new Packr({ useRecords: false, int64AsType: 'number' });
const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false, int64AsType: 'number', structuredClone: false });
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class FrameDecodeError extends Error {
  readonly code = 'LINTEL_ERR_FRAME_UNDECODABLE';
}

/** Decodes one frame; throws FrameDecodeError for anything that is not one map. */
export function decodeFrame(bytes: Uint8Array, encoding: Encoding): Record<string, unknown> {
  let value: unknown;
  try {
    value = encoding === 'msgpack' ? unpackr.unpack(bytes) : JSON.parse(utf8.decode(bytes));
  } catch (err) {
    throw new FrameDecodeError(`cannot decode ${encoding}: ${(err as Error).message}`);
  }
  // Only a plain object is a map: msgpackr turns extension types into Date, Set, RegExp, Error
  // or typed arrays, which are objects too.
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) {
    throw new FrameDecodeError('a frame must be a map');
  }
  return value as Record<string, unknown>;
}

export function encodeFrame(frame: HubFrame | TerminalFrame | Record<string, unknown>, encoding: Encoding): Uint8Array | string {
  return encoding === 'msgpack' ? packr.pack(frame) : JSON.stringify(frame);
}

/** Encoded size of an event's `data` map, in the encoding it came in (PROTOCOL section 2 limit). */
export function encodedSize(value: unknown, encoding: Encoding): number {
  return encoding === 'msgpack' ? packr.pack(value).length : Buffer.byteLength(JSON.stringify(value));
}
