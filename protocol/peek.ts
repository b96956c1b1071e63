// Finds a frame's top-level `t` without building the frame, so the event loop can route `ev`
// frames to the worker pool undecoded (PROTOCOL section 2: every frame is a map with a string `t`).
// Both scanners walk the bytes once, keep no stack and never allocate for skipped values.

export type Peek = { t: string } | { error: 'undecodable' | 'no_type' };

const UNDECODABLE = { error: 'undecodable' } as const;
const NO_TYPE = { error: 'no_type' } as const;
const utf8 = new TextDecoder('utf-8', { fatal: true });

// Big-endian reads; a byte past the end reads as -1, not undefined, so sizes stay numbers (the
// scan checks each against the buffer's end, and the frame is decoded in full later anyway).
// Module-level, not closures per header: they run for every key the scan steps over.
const u8 = (b: Uint8Array, at: number) => b[at] ?? -1;
const u16 = (b: Uint8Array, at: number) => (u8(b, at) << 8) | u8(b, at + 1);
const u32 = (b: Uint8Array, at: number) => u8(b, at) * 0x1000000 + ((u8(b, at + 1) << 16) | (u8(b, at + 2) << 8) | u8(b, at + 3));

/** Bytes taken by the header of the msgpack item at `i`, and how many child items follow it. */
function msgpackHeader(b: Uint8Array, i: number): [size: number, children: number] | undefined {
  const c = b[i];
  if (c === undefined) return undefined;
  if (c <= 0x7f || c >= 0xe0) return [1, 0];
  if (c <= 0x8f) return [1, (c & 0x0f) * 2];
  if (c <= 0x9f) return [1, c & 0x0f];
  if (c <= 0xbf) return [1 + (c & 0x1f), 0];
  switch (c) {
    case 0xc0: case 0xc2: case 0xc3: return [1, 0];
    case 0xc4: return [2 + u8(b, i + 1), 0];
    case 0xc5: return [3 + u16(b, i + 1), 0];
    case 0xc6: return [5 + u32(b, i + 1), 0];
    case 0xc7: return [3 + u8(b, i + 1), 0];
    case 0xc8: return [4 + u16(b, i + 1), 0];
    case 0xc9: return [6 + u32(b, i + 1), 0];
    case 0xca: return [5, 0];
    case 0xcb: return [9, 0];
    case 0xcc: case 0xd0: return [2, 0];
    case 0xcd: case 0xd1: return [3, 0];
    case 0xce: case 0xd2: return [5, 0];
    case 0xcf: case 0xd3: return [9, 0];
    case 0xd4: return [3, 0];
    case 0xd5: return [4, 0];
    case 0xd6: return [6, 0];
    case 0xd7: return [10, 0];
    case 0xd8: return [18, 0];
    case 0xd9: return [2 + u8(b, i + 1), 0];
    case 0xda: return [3 + u16(b, i + 1), 0];
    case 0xdb: return [5 + u32(b, i + 1), 0];
    case 0xdc: return [3, u16(b, i + 1)];
    case 0xdd: return [5, u32(b, i + 1)];
    case 0xde: return [3, u16(b, i + 1) * 2];
    case 0xdf: return [5, u32(b, i + 1) * 2];
    default: return undefined; // 0xc1 is never used
  }
}

/** The string at `i` if the item there is a msgpack string, with the offset after it. */
function msgpackString(b: Uint8Array, i: number): [string, number] | undefined {
  const c = b[i];
  if (c === undefined) return undefined;
  let start: number;
  let len: number;
  if (c >= 0xa0 && c <= 0xbf) { start = i + 1; len = c & 0x1f; }
  else if (c === 0xd9 && i + 1 < b.length) { start = i + 2; len = b[i + 1]!; }
  else if (c === 0xda && i + 2 < b.length) { start = i + 3; len = (b[i + 1]! << 8) | b[i + 2]!; }
  else return undefined;
  if (start + len > b.length) return undefined;
  try {
    return [utf8.decode(b.subarray(start, start + len)), start + len];
  } catch {
    return undefined;
  }
}

export function peekMsgpackType(b: Uint8Array): Peek {
  const top = msgpackHeader(b, 0);
  const c = b[0];
  if (!top || c === undefined || !(c >= 0x80 && c <= 0x8f) && c !== 0xde && c !== 0xdf) return UNDECODABLE;
  let i = top[0];
  for (let pair = 0; pair < top[1] / 2; pair++) {
    const key = msgpackString(b, i);
    if (key && key[0] === 't') {
      const value = msgpackString(b, key[1]);
      return value ? { t: value[0] } : NO_TYPE;
    }
    // Skip the key and its value: `pending` counts items still to step over.
    let pending = 2;
    while (pending > 0) {
      const h = msgpackHeader(b, i);
      if (!h || i + h[0] > b.length) return UNDECODABLE;
      i += h[0];
      pending += h[1] - 1;
    }
  }
  return i <= b.length ? NO_TYPE : UNDECODABLE;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

function skipWs(b: Uint8Array, i: number): number {
  while (i < b.length && WS.has(b[i]!)) i++;
  return i;
}

/** Offset just past the JSON string starting at `i` (b[i] is the opening quote), or -1. */
function jsonStringEnd(b: Uint8Array, i: number): number {
  for (let j = i + 1; j < b.length; j++) {
    if (b[j] === 0x5c) j++;
    else if (b[j] === 0x22) return j + 1;
  }
  return -1;
}

/** Offset just past the JSON value at `i`, or -1. Containers are skipped by bracket depth. */
function jsonValueEnd(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c === 0x22) return jsonStringEnd(b, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (let j = i; j < b.length; j++) {
      const d = b[j];
      if (d === 0x22) { j = jsonStringEnd(b, j) - 1; if (j < 0) return -1; }
      else if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) { if (--depth === 0) return j + 1; }
    }
    return -1;
  }
  let j = i;
  while (j < b.length && b[j] !== 0x2c && b[j] !== 0x7d && b[j] !== 0x5d && !WS.has(b[j]!)) j++;
  return j > i ? j : -1;
}

export function peekJsonType(b: Uint8Array): Peek {
  let i = skipWs(b, 0);
  if (b[i] !== 0x7b) return UNDECODABLE;
  i = skipWs(b, i + 1);
  if (b[i] === 0x7d) return NO_TYPE;
  for (;;) {
    if (b[i] !== 0x22) return UNDECODABLE;
    const keyEnd = jsonStringEnd(b, i);
    if (keyEnd < 0) return UNDECODABLE;
    let key: unknown;
    try { key = JSON.parse(utf8.decode(b.subarray(i, keyEnd))); } catch { return UNDECODABLE; }
    i = skipWs(b, keyEnd);
    if (b[i] !== 0x3a) return UNDECODABLE;
    i = skipWs(b, i + 1);
    const valueEnd = jsonValueEnd(b, i);
    if (valueEnd < 0) return UNDECODABLE;
    if (key === 't') {
      if (b[i] !== 0x22) return NO_TYPE;
      try { return { t: JSON.parse(utf8.decode(b.subarray(i, valueEnd))) as string }; } catch { return UNDECODABLE; }
    }
    i = skipWs(b, valueEnd);
    if (b[i] === 0x2c) { i = skipWs(b, i + 1); continue; }
    return b[i] === 0x7d ? NO_TYPE : UNDECODABLE;
  }
}
