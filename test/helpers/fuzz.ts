// A small seeded generator of hostile LTP/1 frames for the fuzz suite: each category of the
// robustness issue (P4), for every frame type and both encodings, written byte by byte so a case
// can hold what no well-behaved encoder produces (NaN seqs, 100 MB length claims, bad UTF-8).
import { MAX_FRAME_BYTES } from '../../protocol/frames.js';

export type Encoding = 'msgpack' | 'json';
export const FUZZ_TYPES = ['hello', 'ev', 'auth', 'ping', 'cmd_res'] as const;
export type FuzzType = (typeof FUZZ_TYPES)[number];
export const CATEGORIES = [
  'random_bytes', 'truncated', 'trailing_bytes', 'claimed_length', 'deep_nesting', 'huge', 'extension', 'wrong_type',
  'numbers', 'seq', 'invalid_utf8', 'lone_surrogate', 'json_garbage', 'oversize', 'proto', 'before_hello', 'hello_first',
] as const;
export type Category = (typeof CATEGORIES)[number];

export interface FuzzCase {
  category: Category;
  type: FuzzType;
  encoding: Encoding;
  bytes: Uint8Array;
  /** WebSocket frame type: binary for MessagePack, text for JSON (even when the bytes are not UTF-8). */
  binary: boolean;
  note: string;
  /** Sent as the first frame of a fresh session, before any hello. */
  first: boolean;
  /** Crafted cases: the only answers allowed, narrower than the category's. */
  only?: string[];
}

/** sfc32: small, fast, and the same sequence for the same seed on every platform. */
export function createRng(seed: number) {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0;
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const out = (t + d) | 0;
    c = (c + out) | 0;
    return (out >>> 0) / 4294967296;
  };
  for (let i = 0; i < 16; i++) next();
  const rng = {
    next,
    /** An integer in [min, max]. */
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
    chance: (p: number) => next() < p,
    bytes(n: number): Uint8Array {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256);
      return out;
    },
  };
  return rng;
}
export type Rng = ReturnType<typeof createRng>;

// ---- A byte-exact writer for both encodings -------------------------------------------------

/** Bytes (MessagePack) or text (JSON) written exactly as given, in place of a value. */
export class Raw {
  constructor(readonly msgpack: Uint8Array | null, readonly json: string | null) {}
  static mp(...parts: (number | Uint8Array)[]): Raw {
    const out: number[] = [];
    for (const p of parts) if (typeof p === 'number') out.push(p); else for (const b of p) out.push(b);
    return new Raw(Uint8Array.from(out), null);
  }
  static js(text: string): Raw { return new Raw(null, text); }
}

/** A map with its entries as given: duplicate keys, and a `__proto__` key that stays a key. */
export class Entries {
  constructor(readonly entries: [string | Raw, unknown][]) {}
}

const utf8 = new TextEncoder();

function u(n: number, bytes: number): number[] {
  const out: number[] = [];
  for (let i = bytes - 1; i >= 0; i--) out.push(Math.floor(n / 2 ** (8 * i)) % 256);
  return out;
}

function mpHeader(out: number[], len: number, fix: [number, number] | null, c8: number | null, c16: number, c32: number): void {
  if (fix && len < fix[1]) out.push(fix[0] | len);
  else if (c8 !== null && len < 0x100) out.push(c8, len);
  else if (len < 0x10000) out.push(c16, ...u(len, 2));
  else out.push(c32, ...u(len, 4));
}

function mpWrite(v: unknown, out: number[]): void {
  if (v instanceof Raw) {
    if (!v.msgpack) throw new Error('a JSON-only value in a MessagePack frame');
    for (const b of v.msgpack) out.push(b);
  } else if (v === null || v === undefined) out.push(0xc0);
  else if (v === false) out.push(0xc2);
  else if (v === true) out.push(0xc3);
  else if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
      if (v >= 0 && v < 0x80) out.push(v);
      else if (v < 0 && v >= -32) out.push(0x100 + v);
      else if (v >= 0) out.push(...(v < 0x100 ? [0xcc, v] : v < 0x10000 ? [0xcd, ...u(v, 2)] : v < 2 ** 32 ? [0xce, ...u(v, 4)] : [0xcf, ...u(v, 8)]));
      else if (v >= -(2 ** 31)) out.push(0xd2, ...u(v + 2 ** 32, 4));
      else {
        const b = new DataView(new ArrayBuffer(8));
        b.setBigInt64(0, BigInt(v));
        out.push(0xd3, ...new Uint8Array(b.buffer));
      }
    } else {
      const b = new DataView(new ArrayBuffer(8));
      b.setFloat64(0, v);
      out.push(0xcb, ...new Uint8Array(b.buffer));
    }
  } else if (typeof v === 'string') {
    const b = utf8.encode(v);
    mpHeader(out, b.length, [0xa0, 32], 0xd9, 0xda, 0xdb);
    for (const x of b) out.push(x);
  } else if (v instanceof Uint8Array) {
    mpHeader(out, v.length, null, 0xc4, 0xc5, 0xc6);
    for (const x of v) out.push(x);
  } else if (Array.isArray(v)) {
    mpHeader(out, v.length, [0x90, 16], null, 0xdc, 0xdd);
    for (const x of v) mpWrite(x, out);
  } else {
    const entries = v instanceof Entries ? v.entries : Object.entries(v as object);
    mpHeader(out, entries.length, [0x80, 16], null, 0xde, 0xdf);
    for (const [k, x] of entries) { mpWrite(k, out); mpWrite(x, out); }
  }
}

function jsWrite(v: unknown): string {
  if (v instanceof Raw) {
    if (v.json === null) throw new Error('a MessagePack-only value in a JSON frame');
    return v.json;
  }
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (v instanceof Uint8Array) return JSON.stringify(Buffer.from(v).toString('base64'));
  if (Array.isArray(v)) return `[${v.map(jsWrite).join(',')}]`;
  const entries = v instanceof Entries ? v.entries : Object.entries(v as object);
  return `{${entries.map(([k, x]) => `${jsWrite(k)}:${jsWrite(x)}`).join(',')}}`;
}

export function encode(v: unknown, encoding: Encoding): Uint8Array {
  if (encoding === 'json') return utf8.encode(jsWrite(v));
  const out: number[] = [];
  mpWrite(v, out);
  return Uint8Array.from(out);
}

/** An own `__proto__` key (an object literal would set the prototype instead). */
export function withKey(obj: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const out = { ...obj };
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  return out;
}

// ---- Valid frames, and where to hit them ---------------------------------------------------

export interface FuzzContext { now: number; door: string; cred: string; seq(): number }

function event(r: Rng, ctx: FuzzContext): Record<string, unknown> {
  const base = { seq: ctx.seq(), ts: ctx.now - r.int(0, 60_000) };
  switch (r.int(0, 3)) {
    case 0: return { ...base, kind: 'punch', cred: ctx.cred, dir: r.pick(['in', 'out', 'break_out', 'break_in', 'unknown']) };
    case 1: return { ...base, kind: 'door', door: ctx.door, state: r.pick(['opened', 'closed', 'forced', 'held']) };
    case 2: return { ...base, kind: 'alarm', code: 'tamper', detail: 'case opened', data: { zone: r.int(1, 9) } };
    default: return { ...base, kind: 'access', cred: ctx.cred, door: ctx.door, granted: r.chance(0.5), reason: 'offline', rid: r.int(1, 1000) };
  }
}

/** A frame of `type` that the hub accepts as it is. */
export function validFrame(type: FuzzType, r: Rng, ctx: FuzzContext): Record<string, unknown> {
  switch (type) {
    case 'hello': return { t: 'hello', boot: r.int(1, 2 ** 32 - 1), time: ctx.now, fw: 'fuzz/1', model: 'FZ-1' };
    case 'ev': return { t: 'ev', boot: r.int(1, 1000), events: Array.from({ length: r.int(1, 3) }, () => event(r, ctx)) };
    case 'auth': return { t: 'auth', id: r.int(0, 2 ** 32 - 1), cred: ctx.cred, door: ctx.door, ts: ctx.now };
    case 'ping': return { t: 'ping', id: r.chance(0.5) ? r.int(0, 2 ** 40) : `p-${r.int(0, 1e6)}`, time: ctx.now };
    case 'cmd_res': return { t: 'cmd_res', id: `cmd-${r.int(0, 1e9)}`, ok: r.chance(0.5), code: 'done' };
  }
}

type Path = (string | number)[];

/** Every field of a frame: its own, and for ev each field of its first event and the optional ones. */
function paths(frame: Record<string, unknown>): Path[] {
  const out: Path[] = Object.keys(frame).map((k) => [k]);
  const events = frame.events;
  if (Array.isArray(events) && events[0]) {
    const keys = new Set([...Object.keys(events[0] as object), 'rid', 'data', 'detail', 'person']);
    for (const k of keys) out.push(['events', 0, k]);
  }
  return out;
}

function setPath(frame: Record<string, unknown>, path: Path, value: unknown): Record<string, unknown> {
  const copy = structuredClone(frame);
  let at: Record<string | number, unknown> = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  at[path.at(-1)!] = value;
  return copy;
}

// ---- Hostile values ----------------------------------------------------------------------

const f64 = (hex: string) => Raw.mp(0xcb, ...Buffer.from(hex, 'hex'));
const f32 = (hex: string) => Raw.mp(0xca, ...Buffer.from(hex, 'hex'));

const MP_SPECIAL_NUMBERS: [string, Raw][] = [
  ['NaN f64', f64('7ff8000000000000')], ['NaN f32', f32('7fc00000')], ['+Inf f64', f64('7ff0000000000000')],
  ['-Inf f64', f64('fff0000000000000')], ['+Inf f32', f32('7f800000')], ['-0 f64', f64('8000000000000000')],
  ['-0 f32', f32('80000000')], ['1.5 f64', f64('3ff8000000000000')], ['1e300 f64', f64('7e37e43c8800759c')],
  ['5e-324 f64', f64('0000000000000001')], ['signalling NaN', f64('7ff0000000000001')],
];
const JSON_SPECIAL_NUMBERS: [string, Raw][] = [
  ['NaN', Raw.js('NaN')], ['Infinity', Raw.js('Infinity')], ['-Infinity', Raw.js('-Infinity')], ['1e400', Raw.js('1e400')],
  ['-1e400', Raw.js('-1e400')], ['-0', Raw.js('-0')], ['1e-400', Raw.js('1e-400')], ['1.5', Raw.js('1.5')], ['0x10', Raw.js('0x10')],
  ['+1', Raw.js('+1')], ['01', Raw.js('01')], ['1.', Raw.js('1.')], ['.5', Raw.js('.5')], ['1E2', Raw.js('1E2')],
];
const MP_SEQS: [string, Raw | number | string][] = [
  ['0', 0], ['-1', -1], ['2^53', Raw.mp(0xcf, ...u(2 ** 53, 8))], ['2^53-1', 2 ** 53 - 1], ['2^64-1', Raw.mp(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)],
  ['-2^63', Raw.mp(0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0)], ['2^63', Raw.mp(0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0)], ['1.5', f64('3ff8000000000000')],
  ['1.0 as float', f64('3ff0000000000000')], ['-0', f64('8000000000000000')], ['NaN', f64('7ff8000000000000')], ['uint32 max', 2 ** 32 - 1],
  ['int8 -128', Raw.mp(0xd0, 0x80)], ['-1 as int64', Raw.mp(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)],
];
const JSON_SEQS: [string, Raw | number | string][] = [
  ['0', 0], ['-1', -1], ['2^53', Raw.js('9007199254740992')], ['2^53-1', 2 ** 53 - 1], ['2^64-1', Raw.js('18446744073709551615')],
  ['-2^63', Raw.js('-9223372036854775808')], ['1.5', 1.5], ['1.0', Raw.js('1.0')], ['1e3', Raw.js('1e3')], ['-0', Raw.js('-0')],
  ['1e400', Raw.js('1e400')], ['"1"', '1'],
];

const INVALID_UTF8: Uint8Array[] = [
  [0xff], [0xfe, 0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0x61, 0xc3], [0xef, 0xbf, 0xbe, 0xc1],
].map((b) => Uint8Array.from(b));

function mpStr(bytes: Uint8Array): Raw {
  const out: number[] = [];
  mpHeader(out, bytes.length, [0xa0, 32], 0xd9, 0xda, 0xdb);
  return Raw.mp(...out, bytes);
}

/** Values of every MessagePack family and JSON type, for "wrong type in this field". */
function wrongValue(r: Rng, encoding: Encoding): [string, unknown] {
  const common: [string, unknown][] = [
    ['null', null], ['true', true], ['false', false], ['0', 0], ['-1', -1], ['1.5', 1.5], ['2^32', 2 ** 32], ['-2^31', -(2 ** 31)],
    ['empty string', ''], ['string', 'x'], ['long string', 'y'.repeat(300)], ['empty array', []], ['array', [1, 'a']],
    ['empty map', {}], ['map', { a: 1 }], ['map with t', { t: 'ping' }],
  ];
  const mp: [string, unknown][] = [['bin', Uint8Array.of(1, 2, 3)], ['nil ext', Raw.mp(0xd4, 0x00, 0x00)], ['float32', f32('3fc00000')]];
  return r.pick(encoding === 'msgpack' ? [...common, ...mp] : common);
}

/** MessagePack extension values: the timestamp type (-1), msgpackr's own types, and unknown ones. */
const EXTENSIONS: (r: Rng) => [string, Raw][] = (r) => [
  ['timestamp32 max', Raw.mp(0xd6, 0xff, 0xff, 0xff, 0xff, 0xff)],
  ['timestamp64', Raw.mp(0xd7, 0xff, ...r.bytes(8))],
  ['timestamp96 negative', Raw.mp(0xc7, 12, 0xff, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 1)],
  ['timestamp of a bad length', Raw.mp(0xd4, 0xff, 0x00)],
  ['timestamp empty', Raw.mp(0xc7, 0, 0xff)],
  ((t) => [`unknown ext ${t}`, Raw.mp(0xc7, 3, t & 0xff, ...r.bytes(3))])(r.int(-128, 127)),
  ['ext 0x42 (BigInt) of 128 bits', Raw.mp(0xc7, 16, 0x42, 0x7f, ...new Uint8Array(15).fill(0xff))],
  ['ext 0x42 (BigInt) small', Raw.mp(0xd5, 0x42, 0x01, 0x00)],
  ['ext 0x65 (Error) then an array', Raw.mp(0xd4, 0x65, 0x00, 0x93, 0xa9, ...utf8.encode('TypeError'), 0xa1, 0x41, 0xc0)],
  ['ext 0x65 (Error) named constructor', Raw.mp(0xd4, 0x65, 0x00, 0x92, 0xab, ...utf8.encode('constructor'), 0xa1, 0x41)],
  ['ext 0x73 (Set)', Raw.mp(0xd4, 0x73, 0x00, 0x92, 0x01, 0x02)],
  ['ext 0x74 (typed array)', Raw.mp(0xc7, 5, 0x74, 0x00, 1, 2, 3, 4)],
  ['ext 0x74 (typed array) bad code', Raw.mp(0xc7, 3, 0x74, 0x63, 1, 2)],
  ['ext 0x78 (RegExp)', Raw.mp(0xd4, 0x78, 0x00, 0x92, 0xa5, ...utf8.encode('(a+)+'), 0xa1, 0x67)],
  ['ext 0x78 (RegExp) invalid', Raw.mp(0xd4, 0x78, 0x00, 0x92, 0xa1, 0x28, 0xa0)],
  ['ext 0x72 (record)', Raw.mp(0xd4, 0x72, 0x40)],
  ['ext 0x62 (bundled strings)', Raw.mp(0xd6, 0x62, 0x80, 0x00, 0x00, 0x00)],
  ['ext 0x70 (pointer) to nothing', Raw.mp(0xd6, 0x70, 0, 0, 0, 7)],
  // Structured-clone references: a cycle, and one array holding itself 1000 times (a walk
  // that follows references visits 1000^depth nodes).
  ['ext 0x69 cycle', Raw.mp(0xd6, 0x69, 0, 0, 0, 1, 0x92, 0x01, 0xd6, 0x70, 0, 0, 0, 1)],
  ['ext 0x69 self x1000', Raw.mp(0xd6, 0x69, 0, 0, 0, 2, 0xdc, 0x03, 0xe8, Uint8Array.from(Array.from({ length: 1000 }, () => [0xd6, 0x70, 0, 0, 0, 2]).flat()))],
  ['ext 0x69 map cycle', Raw.mp(0xd6, 0x69, 0, 0, 0, 3, 0x81, 0xa1, 0x61, 0xd6, 0x70, 0, 0, 0, 3)],
];

function extensionValue(r: Rng): [string, Raw] {
  return r.pick(EXTENSIONS(r));
}

function extensionValueNamed(name: string): Raw {
  const found = EXTENSIONS(createRng(1)).find(([n]) => n === name);
  if (!found) throw new Error(`no extension value ${name}`);
  return found[1];
}

/** A length header claiming far more than the frame holds (about 100 MB). */
function claimedLength(r: Rng): [string, Raw] {
  const big = [0x06, 0x00, 0x00, 0x00]; // 100 663 296
  return r.pick<[string, Raw]>([
    ['str32 of 100 MB', Raw.mp(0xdb, ...big, 0x41, 0x42)], ['bin32 of 100 MB', Raw.mp(0xc6, ...big, 0x00)],
    ['array32 of 100 M items', Raw.mp(0xdd, ...big, 0x01)], ['map32 of 100 M entries', Raw.mp(0xdf, ...big, 0xa1, 0x61, 0x01)],
    ['ext32 of 100 MB', Raw.mp(0xc9, ...big, 0x01, 0x00)], ['str32 of 4 GB', Raw.mp(0xdb, 0xff, 0xff, 0xff, 0xff, 0x41)],
    ['array16 of 65 535 items', Raw.mp(0xdc, 0xff, 0xff, 0x01)], ['str16 of 65 535 bytes', Raw.mp(0xda, 0xff, 0xff, 0x41)],
    ['map16 of 65 535 entries', Raw.mp(0xde, 0xff, 0xff)], ['bin8 of 255 bytes', Raw.mp(0xc4, 0xff, 0x00)],
  ]);
}

function nested(depth: number, encoding: Encoding, kind: 'array' | 'map', balanced: boolean): Raw {
  if (encoding === 'msgpack') {
    const open = kind === 'array' ? [0x91] : [0x81, 0xa1, 0x61];
    const bytes = new Uint8Array(depth * open.length + (balanced ? 1 : 0)).map((_, i) => open[i % open.length]!);
    if (balanced) bytes[bytes.length - 1] = 0x01;
    return Raw.mp(bytes);
  }
  const [open, close] = kind === 'array' ? ['[', ']'] : ['{"a":', '}'];
  return Raw.js(open.repeat(depth) + (balanced ? `1${close.repeat(depth)}` : ''));
}

// ---- The generator -----------------------------------------------------------------------

function normalCase(category: Category, type: FuzzType, encoding: Encoding, value: unknown, note: string, first = false): FuzzCase {
  return { category, type, encoding, bytes: encode(value, encoding), binary: encoding === 'msgpack', note, first };
}

function bytesCase(category: Category, type: FuzzType, encoding: Encoding, bytes: Uint8Array, note: string, first = false): FuzzCase {
  return { category, type, encoding, bytes, binary: encoding === 'msgpack', note, first };
}

/** A hostile value somewhere in a frame of `type`: at a field of its own, of its event, or a new key. */
function plant(frame: Record<string, unknown>, r: Rng, value: unknown, into: 'field' | 'extra' | 'data' | 'any' = 'any'): [Record<string, unknown>, string] {
  const where = into !== 'any' ? into : r.pick(['field', 'field', 'extra', ...(frame.events ? ['data' as const] : [])] as const);
  if (where === 'extra') return [{ ...frame, x: value }, 'extra field x'];
  if (where === 'data' && Array.isArray(frame.events)) return [setPath(frame, ['events', 0, 'data'], { v: value }), 'events[0].data.v'];
  const path = r.pick(paths(frame).filter((p) => p.length > 1 || p[0] !== 't' || r.chance(0.2)));
  return [setPath(frame, path, value), path.join('.')];
}

function generateOne(category: Category, type: FuzzType, encoding: Encoding, r: Rng, ctx: FuzzContext): FuzzCase {
  const frame = validFrame(type, r, ctx);
  const valid = encode(frame, encoding);
  switch (category) {
    case 'random_bytes': {
      if (r.chance(0.5)) {
        // The start of a real frame, then noise.
        const head = valid.subarray(0, r.int(1, Math.min(valid.length, 12)));
        const tail = encoding === 'msgpack' ? r.bytes(r.int(0, 200)) : utf8.encode(randomText(r, r.int(0, 200)));
        return bytesCase(category, type, encoding, Uint8Array.from([...head, ...tail]), 'a frame start, then noise');
      }
      const n = r.int(0, 256);
      return bytesCase(category, type, encoding, encoding === 'msgpack' ? r.bytes(n) : utf8.encode(randomText(r, n)), `${n} random ${encoding === 'msgpack' ? 'bytes' : 'characters'}`);
    }
    case 'truncated': {
      const cut = r.int(0, valid.length - 1);
      return bytesCase(category, type, encoding, valid.subarray(0, cut), `${cut} of ${valid.length} bytes`);
    }
    case 'trailing_bytes': {
      const tail = encoding === 'msgpack' ? r.bytes(r.int(1, 64)) : utf8.encode(r.pick(['x', '}', ',', '{}', '[1]', `,"t":"${type}"}`, '\u0000', 'null']));
      return bytesCase(category, type, encoding, Uint8Array.from([...valid, ...tail]), `${tail.length} bytes after the frame`);
    }
    case 'claimed_length': {
      if (encoding === 'json') {
        // JSON has no length headers: a string that claims to go on (never closed), of up to 60 KB.
        const n = r.int(1, 60_000);
        const text = `{"t":"${type}","x":"${'z'.repeat(n)}`;
        return bytesCase(category, type, encoding, utf8.encode(text), `an unclosed string of ${n} bytes`);
      }
      const [name, value] = claimedLength(r);
      if (r.chance(0.15)) {
        // The frame itself claims 100 M entries.
        return bytesCase(category, type, encoding, Uint8Array.from([0xdf, 0x06, 0x00, 0x00, 0x00, 0xa1, 0x74, ...encode(type, 'msgpack')]), 'a top-level map32 of 100 M entries');
      }
      const [planted, at] = plant(frame, r, value);
      return normalCase(category, type, encoding, planted, `${name} at ${at}`);
    }
    case 'deep_nesting': {
      const depth = r.pick([100, 1000, 5000, 10_000, 30_000, 60_000, 100_000]);
      const kind = r.pick(['array', 'map'] as const);
      const balanced = r.chance(0.8);
      const value = nested(depth, encoding, kind, balanced);
      if (r.chance(0.15)) return normalCase(category, type, encoding, value, `a top-level ${kind} nested ${depth} deep`);
      const [planted, at] = plant(frame, r, value);
      return normalCase(category, type, encoding, planted, `${balanced ? '' : 'unclosed '}${kind} nested ${depth} deep at ${at}`);
    }
    case 'huge': {
      const pick = r.int(0, 5);
      if (type === 'ev' && pick <= 1) {
        const n = r.pick([500, 501, 600]);
        const events = Array.from({ length: n }, () => ({ seq: ctx.seq(), ts: ctx.now, kind: 'door', door: ctx.door, state: 'opened' }));
        return normalCase(category, type, encoding, { ...frame, events }, `${n} events`);
      }
      if (type === 'ev' && pick === 2) {
        const data = Object.fromEntries(Array.from({ length: r.int(100, 2000) }, (_, i) => [`k${i}`, i]));
        return normalCase(category, type, encoding, setPath(frame, ['events', 0, 'data'], data), `event data of ${Object.keys(data).length} keys`);
      }
      const values: [string, unknown][] = [
        ['a 60 KB string', 's'.repeat(60_000)], ['an array of 10 000 items', Array.from({ length: 10_000 }, (_, i) => i % 100)],
        ['a map of 5 000 keys', Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, 1]))],
        ['an array of 20 000 nils', Array.from({ length: 20_000 }, () => null)],
      ];
      const [name, value] = r.pick(values);
      const [planted, at] = plant(frame, r, value, r.pick(['field', 'extra', ...(type === 'ev' ? ['data' as const] : [])] as const));
      return normalCase(category, type, encoding, planted, `${name} at ${at}`);
    }
    case 'extension': {
      if (encoding === 'json') {
        // The JSON counterpart: objects that look like encoded specials, which must stay plain data.
        const [name, value] = r.pick<[string, unknown]>([
          ['a $date object', { $date: -1 }], ['a typed-array lookalike', { type: 'Buffer', data: [1, 2] }],
          ['a toJSON key', { toJSON: 'x' }], ['a valueOf key', { valueOf: 1, toString: 2 }],
        ]);
        const [planted, at] = plant(frame, r, value);
        return normalCase(category, type, encoding, planted, `${name} at ${at}`);
      }
      const [name, value] = extensionValue(r);
      const [planted, at] = plant(frame, r, value);
      return normalCase(category, type, encoding, planted, `${name} at ${at}`);
    }
    case 'wrong_type': {
      const [name, value] = wrongValue(r, encoding);
      const path = r.pick(paths(frame).filter((p) => p.length > 1 || p[0] !== 't' || r.chance(0.3)));
      return normalCase(category, type, encoding, setPath(frame, path, value), `${name} at ${path.join('.')}`);
    }
    case 'numbers': {
      const [name, value] = r.pick(encoding === 'msgpack' ? MP_SPECIAL_NUMBERS : JSON_SPECIAL_NUMBERS);
      const numeric = paths(frame).filter((p) => ['seq', 'ts', 'boot', 'time', 'id', 'rid'].includes(String(p.at(-1))));
      const path = r.pick(numeric.length ? numeric : paths(frame));
      return normalCase(category, type, encoding, setPath(frame, path, value), `${name} at ${path.join('.')}`);
    }
    case 'seq': {
      // Events whose seq is zero, negative, fractional or past 2^53: only ev has seqs.
      const evFrame = validFrame('ev', r, ctx);
      const [name, value] = r.pick(encoding === 'msgpack' ? MP_SEQS : JSON_SEQS);
      return normalCase(category, 'ev', encoding, setPath(evFrame, ['events', 0, 'seq'], value), `seq ${name}`);
    }
    case 'invalid_utf8': {
      const bad = r.pick(INVALID_UTF8);
      const strings = paths(frame).filter((p) => typeof p.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], frame) === 'string');
      const path = r.pick(strings);
      if (encoding === 'msgpack') {
        const inKey = r.chance(0.2);
        const planted = inKey ? new Entries([...Object.entries(frame), [mpStr(bad), 1]]) : setPath(frame, path, mpStr(Uint8Array.from([...utf8.encode('C'), ...bad])));
        return normalCase(category, type, encoding, planted, `${Buffer.from(bad).toString('hex')} in ${inKey ? 'a key' : path.join('.')}`);
      }
      // A text frame that is not UTF-8 at all.
      const marker = '\u0001MARK\u0001';
      const text = encode(setPath(frame, path, marker), 'json');
      const at = Buffer.from(text).indexOf(Buffer.from(JSON.stringify(marker).slice(1, -1)));
      const bytes = Uint8Array.from([...text.subarray(0, at), ...bad, ...text.subarray(at + JSON.stringify(marker).length - 2)]);
      return bytesCase(category, type, encoding, bytes, `${Buffer.from(bad).toString('hex')} in ${path.join('.')} of a text frame`);
    }
    case 'lone_surrogate': {
      // Valid JSON (or MessagePack CESU-8 bytes) that names half a UTF-16 pair.
      const value = encoding === 'json' ? Raw.js(r.pick(['"\\ud800"', '"a\\udc00b"', '"\\udbff\\udbff"', '"\\u0000\\ud83d"'])) : mpStr(Uint8Array.of(0xed, 0xb0, 0x80));
      const [planted, at] = plant(frame, r, value, type === 'ev' ? r.pick(['field', 'data', 'extra'] as const) : 'field');
      return normalCase(category, type, encoding, planted, `a lone surrogate at ${at}`);
    }
    case 'json_garbage': return bytesCase(category, type, 'json', utf8.encode(jsonGarbage(r, type)), 'JSON garbage');
    case 'oversize': {
      const size = r.chance(0.85) ? r.int(MAX_FRAME_BYTES + 1, 4 * MAX_FRAME_BYTES) : r.int(4 * MAX_FRAME_BYTES + 1, 6 * MAX_FRAME_BYTES);
      const padded = encode({ ...frame, pad: 'p'.repeat(size) }, encoding);
      return bytesCase(category, type, encoding, padded, `${padded.length} bytes`);
    }
    case 'proto': {
      const polluter = r.pick<[string, string, unknown]>([
        ['__proto__', '__proto__', { polluted: true }],
        ['constructor.prototype', 'constructor', { prototype: { polluted: true } }],
        ['__proto__ with t', '__proto__', { t: 'auth', polluted: true }],
        ['prototype', 'prototype', { polluted: true }],
      ]);
      const [name, key, value] = polluter;
      const at = r.pick(['frame', ...(type === 'ev' ? ['event', 'data', 'nested data'] : [])]);
      let planted: Record<string, unknown>;
      if (at === 'frame') planted = withKey(frame, key, value);
      else {
        const events = frame.events as Record<string, unknown>[];
        const e = events[0]!;
        const hit = at === 'event' ? withKey(e, key, value) : at === 'data' ? { ...e, data: withKey({ a: 1 }, key, value) } : { ...e, data: { a: withKey({}, key, value) } };
        planted = { ...frame, events: [hit, ...events.slice(1)] };
      }
      return normalCase(category, type, encoding, planted, `${name} in ${at}`);
    }
    case 'before_hello': {
      // Anything but a valid hello as the first frame: a valid frame of another type, or a hostile one.
      const other = r.pick(FUZZ_TYPES.filter((x) => x !== 'hello'));
      if (r.chance(0.5)) return normalCase(category, other, encoding, validFrame(other, r, ctx), `a valid ${other} before hello`, true);
      const inner = generateOne(r.pick(['random_bytes', 'truncated', 'wrong_type', 'numbers', 'proto', 'deep_nesting', 'claimed_length'] as const), other, encoding, r, ctx);
      return { ...inner, category, first: true, note: `${inner.category} (${inner.note}) before hello` };
    }
    case 'hello_first': {
      // A hello, valid or not, as the first frame: welcome or 4000, nothing else.
      const inner = generateOne(r.pick(['wrong_type', 'numbers', 'proto', 'extension', 'huge', 'invalid_utf8', 'lone_surrogate', 'truncated'] as const), 'hello', encoding, r, ctx);
      return { ...inner, category, first: true, note: `${inner.category}: ${inner.note}` };
    }
  }
}

function randomText(r: Rng, n: number): string {
  const alphabet = ['{', '}', '[', ']', '"', ':', ',', '\\', 'a', 't', '1', ' ', '\n', 'é', '€', '😀', '\u0000', '\u2028', '\ufeff', 'n', 'u', 'l'];
  let s = '';
  for (let i = 0; i < n; i++) s += r.pick(alphabet);
  return s;
}

function jsonGarbage(r: Rng, type: FuzzType): string {
  const fixed = [
    '', ' ', 'null', 'true', '1', '"ping"', '[]', `[{"t":"${type}"}]`, '{}', `{"t":"${type}",}`, `{'t':'${type}'}`, `{t:"${type}"}`,
    `\ufeff{"t":"${type}"}`, `{"t":"${type}"/*c*/}`, `{"t":1}`, '{"t":null}', `{"t":["${type}"]}`, `{"t":{"t":"${type}"}}`,
    `{"t":"${type.toUpperCase()}"}`, `{"t":" ${type}"}`, `{"t":"${type}\\u0000"}`, '{"t":"__proto__"}', '{"t":"constructor"}',
    '{"t":"toString"}', '{"t":"welcome"}', '{"t":"ack"}', '{"__proto__":{"t":"ping"},"id":1,"time":1}', '{"":""}', '"\\ud800"', '{"t":"ev","events":{"length":1}}',
  ];
  if (r.chance(0.5)) return r.pick(fixed);
  const tokens = ['{', '}', '[', ']', ':', ',', '"t"', `"${type}"`, 'null', 'true', '1', '-', '"', '\\', 'NaN', '//', '/*', ' ', '"__proto__"', '1e999'];
  let s = '';
  for (let i = r.int(1, 40); i > 0; i--) s += r.pick(tokens);
  return s;
}

export interface GenerateOptions { seed: number; count: number; ctx: FuzzContext }

/** `count` cases over every category, frame type and encoding, in a seeded order. */
export function generate({ seed, count, ctx }: GenerateOptions): FuzzCase[] {
  const r = createRng(seed);
  const out: FuzzCase[] = [];
  const combos: [Category, FuzzType, Encoding][] = [];
  for (const c of CATEGORIES) for (const t of FUZZ_TYPES) for (const e of ['msgpack', 'json'] as const) combos.push([c, t, e]);
  // Every combination at least once, then the rest at random; oversize frames are few (they are big).
  for (let i = 0; out.length < count; i++) {
    const [category, type, encoding] = i < combos.length ? combos[i]! : r.pick(combos);
    if (i >= combos.length && category === 'oversize' && !r.chance(0.2)) continue;
    out.push(generateOne(category, type, category === 'json_garbage' ? 'json' : encoding, r, ctx));
  }
  return out;
}

// ---- Crafted cases: the ones the issue names, sent in every run ------------------------------

/** A frame padded with a filler field to exactly `size` encoded bytes. */
function ofSize(frame: Record<string, unknown>, size: number, encoding: Encoding): Uint8Array {
  const guess = size - encode({ ...frame, pad: '' }, encoding).length;
  for (let n = Math.max(0, guess - 8); n <= guess + 8; n++) {
    const out = encode({ ...frame, pad: 'p'.repeat(n) }, encoding);
    if (out.length === size) return out;
  }
  throw new Error(`no ${encoding} frame of exactly ${size} bytes`);
}

/**
 * The cases the issue names (a `__proto__` key, 100 MB length claims, 100 000 levels of nesting,
 * NaN and infinite numbers, bad seqs, bad UTF-8, extension types, size limits, frames before
 * hello), each with the answers it must get. An ack is written `ack seqs=<n> q=<codes>`.
 */
export function craftedCases(ctx: FuzzContext): FuzzCase[] {
  const out: FuzzCase[] = [];
  const add = (category: Category, type: FuzzType, encoding: Encoding, value: unknown, note: string, only: string[], first = false) =>
    out.push({ ...normalCase(category, type, encoding, value, note, first), only });
  const addBytes = (category: Category, type: FuzzType, encoding: Encoding, bytes: Uint8Array, note: string, only: string[], first = false) =>
    out.push({ ...bytesCase(category, type, encoding, bytes, note, first), only });
  const door = (extra: Record<string, unknown> = {}) => ({ seq: ctx.seq(), ts: ctx.now, kind: 'door', door: ctx.door, state: 'opened', ...extra });
  const ev = (e: unknown, boot: unknown = 1) => ({ t: 'ev', boot, events: [e] });
  const ping = (extra: Record<string, unknown> = {}) => ({ t: 'ping', id: 1, time: ctx.now, ...extra });
  const auth = (extra: Record<string, unknown> = {}) => ({ t: 'auth', id: 7, cred: ctx.cred, door: ctx.door, ...extra });
  const hello = (extra: Record<string, unknown> = {}) => ({ t: 'hello', boot: 1, time: ctx.now, ...extra });
  const polluter = { polluted: true };

  for (const enc of ['msgpack', 'json'] as const) {
    // A `__proto__` key, with a map that says polluted: true, everywhere a map is read.
    add('hello_first', 'hello', enc, withKey(hello(), '__proto__', polluter), '__proto__ in hello', ['welcome'], true);
    add('proto', 'auth', enc, withKey(auth(), '__proto__', polluter), '__proto__ in auth', ['auth_res']);
    add('proto', 'ping', enc, withKey(ping(), '__proto__', { t: 'auth', ...polluter }), '__proto__ holding another t in ping', ['pong']);
    add('proto', 'ev', enc, withKey(ev(door()), '__proto__', polluter), '__proto__ in ev', ['ack seqs=1 q=']);
    add('proto', 'ev', enc, ev(withKey(door(), '__proto__', polluter)), '__proto__ in an event', ['ack seqs=1 q=']);
    add('proto', 'ev', enc, ev(door({ data: withKey({ a: 1 }, '__proto__', polluter) })), '__proto__ in event data', ['ack seqs=1 q=']);
    add('proto', 'ev', enc, ev(door({ data: { constructor: { prototype: polluter } } })), 'constructor.prototype in event data', ['ack seqs=1 q=']);
    add('proto', 'cmd_res', enc, withKey({ t: 'cmd_res', id: 'c-1', ok: true }, '__proto__', polluter), '__proto__ in cmd_res', ['silent']);

    // 100 000 levels of nesting: over the size limit as they are; 60 000 levels fit in a frame.
    add('deep_nesting', 'ping', enc, nested(100_000, enc, 'array', false), 'a top-level array nested 100 000 deep', ['close:1009']);
    add('deep_nesting', 'ping', enc, ping({ x: nested(60_000, enc, 'array', enc === 'msgpack') }), 'an array nested 60 000 deep in ping', ['error']);
    add('deep_nesting', 'ev', enc, ev(door({ data: { v: nested(60_000, enc, 'array', enc === 'msgpack') } })), 'an array nested 60 000 deep in event data', ['error']);
    add('deep_nesting', 'ev', enc, ev({ seq: ctx.seq(), ts: ctx.now, kind: 'alarm', code: nested(1000, enc, 'array', true) }), 'an alarm code nested 1000 deep', ['ack seqs=1 q=bad_field']);
    if (enc === 'json') {
      // JSON.parse reads 30 000 levels; what reads the value after it must not recurse into it.
      add('deep_nesting', 'ping', enc, ping({ x: nested(30_000, enc, 'array', true) }), 'an ignored field nested 30 000 deep', ['pong', 'error']);
      add('deep_nesting', 'ev', enc, ev(door({ data: { v: nested(30_000, enc, 'array', true) } })), 'event data nested 30 000 deep', ['ack seqs=1 q=data_too_large', 'error']);
    }

    // NaN, infinities and -0 where integers belong.
    const specials: [string, Raw][] = enc === 'msgpack'
      ? [['NaN', f64('7ff8000000000000')], ['+Inf', f64('7ff0000000000000')], ['-Inf', f32('ff800000')], ['-0', f64('8000000000000000')]]
      : [['NaN', Raw.js('NaN')], ['Infinity (1e400)', Raw.js('1e400')], ['-Infinity (-1e400)', Raw.js('-1e400')], ['-0', Raw.js('-0')]];
    for (const [name, v] of specials) {
      const invalidJson = name === 'NaN' && enc === 'json'; // not JSON at all
      const zero = name === '-0';
      add('numbers', 'ev', enc, ev(door({ seq: v })), `seq ${name}`, invalidJson ? ['error'] : ['ack seqs=0 q=']);
      add('numbers', 'ev', enc, ev(door({ ts: v })), `ts ${name}`, invalidJson ? ['error'] : [zero ? 'ack seqs=1 q=implausible_time' : 'ack seqs=1 q=bad_field']);
      add('numbers', 'ev', enc, ev(door(), v), `boot ${name}`, zero ? ['ack seqs=1 q='] : ['error']);
      add('numbers', 'auth', enc, auth({ id: v }), `auth id ${name}`, zero ? ['auth_res'] : ['error']);
      add('numbers', 'ping', enc, ping({ id: v }), `ping id ${name}`, zero ? ['pong'] : ['error']);
      add('numbers', 'ping', enc, ping({ time: v }), `ping time ${name}`, zero ? ['pong'] : ['error']);
      add('hello_first', 'hello', enc, hello({ boot: v }), `hello boot ${name}`, zero ? ['welcome'] : ['close:4000'], true);
    }

    // Zero, negative and huge seqs: the event has no identity (bad_seq), named in neither seqs nor q.
    const seqs: [string, unknown, string][] = [
      ['0', 0, 'ack seqs=0 q='], ['-1', -1, 'ack seqs=0 q='], ['2^53-1', 2 ** 53 - 1, 'ack seqs=1 q='],
      ['2^53', enc === 'msgpack' ? Raw.mp(0xcf, ...u(2 ** 53, 8)) : Raw.js('9007199254740992'), 'ack seqs=0 q='],
      ['2^64-1', enc === 'msgpack' ? Raw.mp(0xcf, ...new Array(8).fill(0xff)) : Raw.js('18446744073709551615'), 'ack seqs=0 q='],
    ];
    for (const [name, v, only] of seqs) add('seq', 'ev', enc, ev(door({ seq: v })), `seq ${name}`, [only]);

    // Size limits: 64 KiB is a frame, one byte more is 1009; past 256 KiB uWS drops the connection.
    addBytes('oversize', 'ping', enc, ofSize(ping(), MAX_FRAME_BYTES, enc), 'a ping of exactly 64 KiB', ['pong']);
    addBytes('oversize', 'ping', enc, ofSize(ping(), MAX_FRAME_BYTES + 1, enc), 'a ping of 64 KiB + 1', ['close:1009']);
    addBytes('oversize', 'ev', enc, ofSize(ev(door()), MAX_FRAME_BYTES + 1, enc), 'an ev of 64 KiB + 1', ['close:1009']);
    addBytes('oversize', 'ping', enc, ofSize(ping(), 4 * MAX_FRAME_BYTES + 1, enc), 'a ping of 256 KiB + 1', ['close:1006']);

    // Anything before hello.
    add('before_hello', 'ping', enc, ping(), 'a valid ping before hello', ['close:4000'], true);
    add('before_hello', 'ev', enc, ev(door()), 'a valid ev before hello', ['close:4000'], true);
    add('before_hello', 'auth', enc, auth(), 'a valid auth before hello', ['close:4000'], true);
    add('hello_first', 'hello', enc, { t: 'hello', boot: 1 }, 'a hello without time', ['close:4000'], true);
  }

  // MessagePack only: length claims of about 100 MB, extension types, strings that are not UTF-8.
  const big = [0x06, 0x00, 0x00, 0x00];
  const claims: [string, Raw][] = [
    ['str32', Raw.mp(0xdb, ...big, 0x41)], ['bin32', Raw.mp(0xc6, ...big, 0x00)], ['array32', Raw.mp(0xdd, ...big, 0x01)],
    ['map32', Raw.mp(0xdf, ...big, 0xa1, 0x61, 0x01)], ['ext32', Raw.mp(0xc9, ...big, 0x05, 0x00)],
  ];
  for (const [name, v] of claims) {
    add('claimed_length', 'ping', 'msgpack', ping({ id: v }), `a ${name} of 100 MB as ping id`, ['error']);
    add('claimed_length', 'ev', 'msgpack', ev(door({ data: { v } })), `a ${name} of 100 MB in event data`, ['error']);
  }
  addBytes('claimed_length', 'ping', 'msgpack', Uint8Array.from([0xdf, ...big, 0xa1, 0x74, 0xa4, ...utf8.encode('ping')]), 'a top-level map32 of 100 M entries', ['error']);
  add('extension', 'ping', 'msgpack', ping({ time: Raw.mp(0xd6, 0xff, 0xff, 0xff, 0xff, 0xff) }), 'a timestamp (ext -1) as ping time', ['error']);
  add('extension', 'ev', 'msgpack', ev(door({ ts: Raw.mp(0xd7, 0xff, 0, 0, 0, 0, 0x60, 0, 0, 0) })), 'a timestamp (ext -1) as event ts', ['ack seqs=1 q=bad_field']);
  add('extension', 'ping', 'msgpack', ping({ x: Raw.mp(0xd4, 0x05, 0x00) }), 'an unknown extension type 5', ['error']);
  add('extension', 'ev', 'msgpack', ev(door({ data: { v: Raw.mp(0xd4, 0x80, 0x00) } })), 'an unknown extension type -128 in event data', ['error']);
  add('extension', 'ev', 'msgpack', ev(door({ data: { v: extensionValueNamed('ext 0x69 self x1000') } })), 'an array holding itself 1000 times in event data', ['error']);
  add('extension', 'ev', 'msgpack', ev({ seq: ctx.seq(), ts: ctx.now, kind: 'alarm', code: extensionValueNamed('ext 0x69 cycle') }), 'a cycle as an alarm code', ['error']);
  add('extension', 'ev', 'msgpack', ev(door({ data: { v: extensionValueNamed('ext 0x42 (BigInt) of 128 bits') } })), 'a 128-bit BigInt in event data', ['ack seqs=1 q=data_too_large']);
  add('invalid_utf8', 'auth', 'msgpack', auth({ cred: mpStr(Uint8Array.of(0x43, 0xff, 0xfe)) }), 'a credential that is not UTF-8', ['auth_res', 'error']);
  add('invalid_utf8', 'ping', 'msgpack', { t: mpStr(Uint8Array.of(0x70, 0xff, 0x6e, 0x67)), id: 1, time: ctx.now }, 't that is not UTF-8', ['error']);
  addBytes('invalid_utf8', 'ping', 'json', Uint8Array.from([...utf8.encode('{"t":"ping","id":"'), 0xff, ...utf8.encode('","time":1}')]), 'a text frame that is not UTF-8', ['close:1006']);
  add('lone_surrogate', 'ev', 'json', ev(door({ data: { v: Raw.js('"\\ud800"') } })), 'a lone surrogate in event data', ['ack seqs=1 q=']);
  add('lone_surrogate', 'ev', 'json', ev(door({ data: withKey({}, '\ud800', 1) })), 'a lone surrogate as a data key', ['ack seqs=1 q=']);
  add('lone_surrogate', 'ev', 'json', ev({ seq: ctx.seq(), ts: ctx.now, kind: Raw.js('"x\\udc00"') }), 'a lone surrogate as the kind', ['ack seqs=1 q=unknown_kind']);
  add('numbers', 'ev', 'msgpack', ev(door({ rid: f64('7ff8000000000000') })), 'rid NaN on a door event', ['ack seqs=1 q=']);
  add('numbers', 'ev', 'json', ev(door({ rid: 1.5 })), 'rid 1.5 on a door event', ['ack seqs=1 q=']);
  return out;
}

