// protocol/codec.ts: frames survive a round trip in both encodings, only a plain map is a frame,
// and a `__proto__` key from a terminal never reaches an object's prototype chain.
import t from 'tap';
import { pack, Packr } from 'msgpackr';
import { decodeFrame, encodedSize, encodeFrame, FrameDecodeError } from '../../protocol/codec.js';
import type { Encoding } from '../../protocol/frames.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const bytesOf = (encoded: Uint8Array | string) => (typeof encoded === 'string' ? utf8(encoded) : encoded);
const ENCODINGS: Encoding[] = ['msgpack', 'json'];
const ts = 1_767_225_600_123; // past 2^32: msgpack needs 64 bits for it

const frames: Record<string, unknown>[] = [
  { t: 'hello', boot: 4_294_967_295, time: ts, fw: 'fw-1.2', model: 'X' },
  { t: 'welcome', device: 'd6f0c1aa-0000-4000-8000-000000000001', site_tz: 'Europe/Zürich', server_time: ts, last_seq: 0, heartbeat_s: 30, max_batch: 500 },
  {
    t: 'ev', boot: 7, events: [
      { seq: 1, ts, kind: 'punch', cred: 'CARD-1', dir: 'in' },
      { seq: 2, ts, kind: 'access', cred: 'C', door: 'D1', granted: false, reason: 'unknown_credential', rid: 9 },
      { seq: 3, ts, kind: 'alarm', code: 'tamper', data: { nested: { list: [1, -2, 3.5, null, true, 'ünïcödé 😀'] }, empty: {}, none: [] } },
    ],
  },
  { t: 'ack', boot: 7, seqs: [1, 2, 3, Number.MAX_SAFE_INTEGER], q: [{ seq: 3, code: 'bad_field' }] },
  { t: 'busy', boot: 7, seqs: [], retry_ms: 1000 },
  { t: 'error', code: 'bad_frame', msg: 'frame is not JSON' },
  { t: 'auth', id: 1, cred: 'CARD-1', door: 'D1', ts },
  { t: 'auth_res', id: 1, ok: true, reason: 'granted', person: 'E-1', open_ms: 5000 },
  { t: 'cmd', id: 'c-1', action: 'unlock', door: 'D1', duration_ms: 3000, expires_at: ts },
  { t: 'cmd_res', id: 'c-1', ok: false, code: 'expired' },
  { t: 'ping', id: 'p-1', time: ts },
  { t: 'pong', id: 42, time: ts, server_time: ts + 1 },
];

t.test('every frame type survives a round trip in both encodings', async (t) => {
  for (const encoding of ENCODINGS) {
    for (const frame of frames) {
      const encoded = encodeFrame(frame, encoding);
      t.equal(typeof encoded, encoding === 'json' ? 'string' : 'object', `${encoding} ${String(frame.t)}: text for JSON, bytes for msgpack`);
      t.same(decodeFrame(bytesOf(encoded), encoding), frame, `${encoding} ${String(frame.t)}`);
    }
  }
});

t.test('msgpack frames are plain maps: no record extension, 64-bit integers as numbers', async (t) => {
  const encoded = encodeFrame({ t: 'ping', id: 1, time: ts }, 'msgpack') as Uint8Array;
  t.ok(encoded[0] === 0xde || (encoded[0]! & 0xf0) === 0x80, 'a plain msgpack map (fixmap or map16), readable by any msgpack library');
  const frame = decodeFrame(hex('83 a174 a178 a161 cf0000010000000000 a162 d3ffffff0000000000'), 'msgpack');
  t.equal(frame.a, 2 ** 40);
  t.equal(frame.b, -(2 ** 40));
  t.equal(typeof decodeFrame(hex('82 a174 a178 a161 cfffffffffffffffff'), 'msgpack').a, 'number', 'never a BigInt');
});

// Decoded, the map for {"__proto__": {"polluted": "yes"}, "t": "x"}, then the same inside an event.
const protoCases: { name: string; encoding: Encoding; bytes: Uint8Array; inner: (f: Record<string, unknown>) => unknown }[] = [
  { name: 'msgpack, top level', encoding: 'msgpack', bytes: hex('82 a9 5f5f70726f746f5f5f 81 a8 706f6c6c75746564 a3 796573 a174 a178'), inner: (f) => f },
  {
    name: 'msgpack, inside an event', encoding: 'msgpack',
    bytes: hex('82 a174 a26576 a6 6576656e7473 91 81 a9 5f5f70726f746f5f5f 81 a8 706f6c6c75746564 a3 796573'),
    inner: (f) => (f.events as unknown[])[0],
  },
  { name: 'JSON, top level', encoding: 'json', bytes: utf8('{"__proto__":{"polluted":"yes"},"t":"x"}'), inner: (f) => f },
  { name: 'JSON, inside an event', encoding: 'json', bytes: utf8('{"t":"ev","events":[{"__proto__":{"polluted":"yes"}}]}'), inner: (f) => (f.events as unknown[])[0] },
  { name: 'JSON, escaped key', encoding: 'json', bytes: utf8('{"\\u005f_proto__":{"polluted":"yes"},"t":"x"}'), inner: (f) => f },
];

t.test('__proto__ keys never reach a prototype', async (t) => {
  for (const c of protoCases) {
    const frame = decodeFrame(c.bytes, c.encoding);
    const inner = c.inner(frame) as Record<string, unknown>;
    t.equal(Object.getPrototypeOf(inner), Object.prototype, `${c.name}: the map keeps Object.prototype`);
    t.equal(inner.polluted, undefined, `${c.name}: the map inherits nothing from the terminal`);
    t.equal(({} as Record<string, unknown>).polluted, undefined, `${c.name}: Object.prototype is untouched`);
    t.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false, `${c.name}: no property added to Object.prototype`);
    // Re-encoding (e.g. for the quarantine's raw copy) must not throw either.
    t.ok(encodeFrame(frame, c.encoding), `${c.name}: encodes again`);
  }
});

const structured = new Packr({ structuredClone: true, useRecords: false });
const notMaps: { name: string; encoding: Encoding; bytes: Uint8Array }[] = [
  { name: 'array', encoding: 'msgpack', bytes: pack([{ t: 'ev' }]) },
  { name: 'empty array', encoding: 'msgpack', bytes: pack([]) },
  { name: 'string', encoding: 'msgpack', bytes: pack('hello') },
  { name: 'number', encoding: 'msgpack', bytes: pack(1) },
  { name: 'nil', encoding: 'msgpack', bytes: pack(null) },
  { name: 'boolean', encoding: 'msgpack', bytes: pack(true) },
  { name: 'bin', encoding: 'msgpack', bytes: pack(Buffer.from('{}')) },
  // Extension types msgpackr turns into objects that are not maps.
  { name: 'timestamp extension (Date)', encoding: 'msgpack', bytes: hex('d6ff00000000') },
  { name: 'Set extension', encoding: 'msgpack', bytes: structured.pack(new Set([1])) },
  { name: 'RegExp extension', encoding: 'msgpack', bytes: structured.pack(/t/) },
  { name: 'Error extension', encoding: 'msgpack', bytes: structured.pack(new Error('t')) },
  { name: 'typed array extension', encoding: 'msgpack', bytes: structured.pack(new Float32Array([1])) },
  { name: 'array', encoding: 'json', bytes: utf8('[{"t":"ev"}]') },
  { name: 'string', encoding: 'json', bytes: utf8('"hello"') },
  { name: 'number', encoding: 'json', bytes: utf8('1') },
  { name: 'null', encoding: 'json', bytes: utf8('null') },
  { name: 'boolean', encoding: 'json', bytes: utf8('true') },
];

t.test('a frame must be a map: anything else is rejected as undecodable', async (t) => {
  for (const c of notMaps) {
    t.throws(() => decodeFrame(c.bytes, c.encoding), { code: 'LINTEL_ERR_FRAME_UNDECODABLE' }, `${c.encoding} ${c.name}`);
  }
});

const undecodable: { name: string; encoding: Encoding; bytes: Uint8Array }[] = [
  { name: 'the never-used byte 0xc1', encoding: 'msgpack', bytes: hex('c1') },
  { name: 'empty input', encoding: 'msgpack', bytes: hex('') },
  { name: 'truncated map', encoding: 'msgpack', bytes: hex('82 a174 a26576') },
  { name: 'truncated string', encoding: 'msgpack', bytes: hex('81 a174 a565') },
  { name: 'trailing bytes after the map', encoding: 'msgpack', bytes: hex('81 a174 a178 00') },
  { name: 'unknown extension type', encoding: 'msgpack', bytes: hex('81 a174 d40501') },
  // msgpackr decodes recursively: nesting deeper than the stack must be a decode error, not a crash.
  { name: '100 000 nested arrays', encoding: 'msgpack', bytes: Uint8Array.from([...hex('82 a174 a26576 a161'), ...new Uint8Array(100_000).fill(0x91), 0x01]) },
  { name: 'empty input', encoding: 'json', bytes: utf8('') },
  { name: 'truncated', encoding: 'json', bytes: utf8('{"t":"ev",') },
  { name: 'trailing garbage', encoding: 'json', bytes: utf8('{"t":"ev"} x') },
  { name: 'single quotes', encoding: 'json', bytes: utf8("{'t':'ev'}") },
  { name: 'invalid UTF-8', encoding: 'json', bytes: Uint8Array.from([...utf8('{"t":"'), 0xc3, 0x28, ...utf8('"}')]) },
];

t.test('undecodable bytes throw FrameDecodeError with the catalogue code', async (t) => {
  for (const c of undecodable) {
    let thrown: unknown;
    try {
      decodeFrame(c.bytes, c.encoding);
    } catch (err) {
      thrown = err;
    }
    t.ok(thrown instanceof FrameDecodeError, `${c.encoding} ${c.name}: a FrameDecodeError`);
    t.equal((thrown as { code?: string } | undefined)?.code, 'LINTEL_ERR_FRAME_UNDECODABLE', `${c.encoding} ${c.name}: its code`);
  }
});

t.test('encodedSize measures what the 1 KiB data limit counts', async (t) => {
  // map16 header (3) + fixstr "b" (2) + str16 header (3) + n bytes
  t.equal(encodedSize({ b: 'x'.repeat(1016) }, 'msgpack'), 1024);
  t.equal(encodedSize({ b: 'x'.repeat(1017) }, 'msgpack'), 1025);
  t.equal(encodedSize({ b: 'é' }, 'json'), '{"b":"é"}'.length + 1, 'JSON size is in UTF-8 bytes, not characters');
});
