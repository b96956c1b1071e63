// protocol/peek.ts: the event loop routes frames by `t` without decoding them, so the peek must
// agree with a full decode on every well-formed frame and never report a `t` for a broken one.
import t from 'tap';
import { pack } from 'msgpackr';
import { decodeFrame } from '../../protocol/codec.js';
import { peekJsonType, peekMsgpackType, type Peek } from '../../protocol/peek.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const UNDECODABLE: Peek = { error: 'undecodable' };
const NO_TYPE: Peek = { error: 'no_type' };

// `decodes`: the input is a valid frame, so a full decode must find the same `t` as the peek.
interface Case { name: string; bytes: Uint8Array; want: Peek; decodes?: boolean }

const msgpackCases: Case[] = [
  { name: 't first', bytes: pack({ t: 'hello', boot: 1, time: 1 }), want: { t: 'hello' }, decodes: true },
  { name: 't after nested maps and arrays', bytes: pack({ a: { b: [1, { c: 'd', e: [[], {}] }], f: {} }, g: [[1, [2, [3]]]], t: 'ev' }), want: { t: 'ev' }, decodes: true },
  {
    name: 't after strings of every width (fixstr, str8, str16, str32)',
    bytes: pack({ s5: 'x'.repeat(5), s8: 'x'.repeat(200), s16: 'x'.repeat(300), s32: 'é'.repeat(40_000), t: 'ping' }),
    want: { t: 'ping' }, decodes: true,
  },
  {
    name: 't after bin of every width (bin8, bin16, bin32)',
    bytes: pack({ b8: Buffer.alloc(10, 0xa1), b16: Buffer.alloc(300, 0x74), b32: Buffer.alloc(70_000, 0x81), t: 'auth' }),
    want: { t: 'auth' }, decodes: true,
  },
  { name: 't after timestamp extensions (fixext4, fixext8, ext8)', bytes: pack({ d32: new Date(0), d64: new Date(1500), d96: new Date(-1), t: 'ev' }), want: { t: 'ev' }, decodes: true },
  {
    // Every extension header width, with bodies that look like map and string headers.
    name: 't after fixext 1/2/4/8/16 and ext 8/16/32',
    bytes: hex(`89
      a161 d4 05 81
      a162 d5 05 a174 
      a163 d6 05 a1 74 a1 78
      a164 d7 05 8f 8f 8f 8f 8f 8f 8f 8f
      a165 d8 05 ${'a1'.repeat(16)}
      a166 c7 03 05 a17478
      a167 c8 0003 05 a17478
      a168 c9 00000003 05 a17478
      a174 a265 76`),
    want: { t: 'ev' },
  },
  {
    name: 't after numbers of every width, nil and booleans',
    bytes: pack({ u8: 200, u16: 60000, u32: 4e9, i8: -100, i16: -1000, i32: -100000, f: 1.5, big: 2 ** 53 - 1, n: null, y: true, no: false, t: 'ping' }),
    want: { t: 'ping' }, decodes: true,
  },
  { name: 't after int64, uint64 and float32', bytes: hex('84 a161 cf0000010000000000 a162 d3ffffff0000000000 a163 ca3fc00000 a174 a26576'), want: { t: 'ev' }, decodes: true },
  { name: 'map16 with t after 19 keys', bytes: pack(Object.fromEntries([...Array.from({ length: 19 }, (_, i) => [`k${i}`, i]), ['t', 'cmd_res']])), want: { t: 'cmd_res' }, decodes: true },
  { name: 'map32', bytes: hex('df00000002 a161 c0 a174 a26576'), want: { t: 'ev' }, decodes: true },
  { name: 'array16 and array32 skipped', bytes: hex('83 a161 dc0002 01 02 a162 dd00000001 c0 a174 a26576'), want: { t: 'ev' }, decodes: true },
  { name: 't key as str8', bytes: hex('81 d90174 a26576'), want: { t: 'ev' }, decodes: true },
  { name: 't value as str8 and str16', bytes: hex('82 a161 da000174 a174 d9026576'), want: { t: 'ev' }, decodes: true },
  { name: 'unknown type names are reported, not judged', bytes: pack({ t: 'nope' }), want: { t: 'nope' }, decodes: true },
  { name: 'empty map', bytes: hex('80'), want: NO_TYPE, decodes: true },
  { name: 'no t', bytes: pack({ a: 1, b: 'ev' }), want: NO_TYPE, decodes: true },
  { name: 't only in a nested map', bytes: pack({ a: { t: 'ev' } }), want: NO_TYPE, decodes: true },
  { name: 't only inside an array', bytes: pack({ a: ['t', 'ev'] }), want: NO_TYPE, decodes: true },
  { name: '"t" only as a value', bytes: pack({ a: 't', b: 'ev' }), want: NO_TYPE, decodes: true },
  { name: 't is a number', bytes: pack({ t: 1 }), want: NO_TYPE, decodes: true },
  { name: 't is nil', bytes: pack({ t: null }), want: NO_TYPE, decodes: true },
  { name: 't is a map', bytes: pack({ t: { t: 'ev' } }), want: NO_TYPE, decodes: true },
  { name: 't is an array', bytes: pack({ t: ['ev'] }), want: NO_TYPE, decodes: true },
  { name: 't is bin', bytes: pack({ t: Buffer.from('ev') }), want: NO_TYPE, decodes: true },
  { name: 'top level is an array', bytes: pack([{ t: 'ev' }]), want: UNDECODABLE },
  { name: 'top level is a string', bytes: pack('t'), want: UNDECODABLE },
  { name: 'top level is a number', bytes: pack(1), want: UNDECODABLE },
  { name: 'top level is nil', bytes: pack(null), want: UNDECODABLE },
  { name: 'top level is bin', bytes: pack(Buffer.from('{"t":"ev"}')), want: UNDECODABLE },
  { name: 'top level is an extension', bytes: pack(new Date(0)), want: UNDECODABLE },
  { name: 'the never-used byte 0xc1', bytes: hex('c1'), want: UNDECODABLE },
  { name: 'empty input', bytes: hex(''), want: UNDECODABLE },
  { name: '0xc1 inside a skipped value', bytes: hex('82 a161 c1 a174 a26576'), want: UNDECODABLE },
  { name: 'fewer pairs than the map header says', bytes: hex('82 a161 01'), want: UNDECODABLE },
  // Lengths far past the input must end the scan at once, not loop or read out of bounds.
  { name: 'bin32 claiming 4 GiB', bytes: hex('82 a161 c6ffffffff a174 a26576'), want: UNDECODABLE },
  { name: 'array32 claiming 2^32-1 items', bytes: hex('82 a161 ddffffffff a174 a26576'), want: UNDECODABLE },
  { name: 'map32 claiming 2^32-1 pairs', bytes: hex('dfffffffff'), want: UNDECODABLE },
];

t.test('peekMsgpackType', async (t) => {
  for (const c of msgpackCases) {
    t.same(peekMsgpackType(c.bytes), c.want, c.name);
    if (c.decodes) {
      const t0 = decodeFrame(c.bytes, 'msgpack').t;
      t.same(typeof t0 === 'string' ? { t: t0 } : NO_TYPE, c.want, `${c.name}: a full decode agrees`);
    }
  }
});

t.test('peekMsgpackType on every truncation of a frame whose t comes last', async (t) => {
  const full = pack({ a: { b: [1, 'two', Buffer.from([3])] }, d: new Date(1500), t: 'ping' });
  const tKeyAt = full.length - 7; // a1 74, then a4 'ping'
  t.same(Buffer.from(full.subarray(tKeyAt, tKeyAt + 2)), Buffer.from('a174', 'hex'), 'the t key is where the test expects it');
  t.same(peekMsgpackType(full), { t: 'ping' });
  for (let n = 0; n < full.length; n++) {
    const got = peekMsgpackType(full.subarray(0, n));
    // Cut inside the t value the peek may say either error; before it, nothing is there to find.
    if (n <= tKeyAt + 1) t.same(got, UNDECODABLE, `cut at ${n} of ${full.length}`);
    else t.ok('error' in got, `cut at ${n} of ${full.length}: ${JSON.stringify(got)}`);
  }
});

const jsonCases: Case[] = [
  { name: 't first', bytes: utf8('{"t":"hello","boot":1}'), want: { t: 'hello' }, decodes: true },
  { name: 'whitespace everywhere', bytes: utf8(' \t\r\n{ \n "t" \t : \r "ping" \n } \n'), want: { t: 'ping' }, decodes: true },
  {
    name: 't after nested values whose strings hold brackets, quotes and backslashes',
    bytes: utf8('{"a":{"b":[1,{"c":"}]"}],"d":[]},"e":"x\\"}","s":"\\\\","u":"{[{[","f":null,"g":-1.5e3,"h":true,"t":"ev"}'),
    want: { t: 'ev' }, decodes: true,
  },
  { name: 'escaped key that means t', bytes: utf8('{"\\u0074":"auth"}'), want: { t: 'auth' }, decodes: true },
  { name: 'key holding an escaped quote and a t', bytes: utf8('{"a\\"t":"x","t\\"":"y","t":"ping"}'), want: { t: 'ping' }, decodes: true },
  { name: 'escapes inside the t value', bytes: utf8('{"t":"h\\u0065llo"}'), want: { t: 'hello' }, decodes: true },
  { name: 'escaped quote inside the t value', bytes: utf8('{"t":"a\\"b"}'), want: { t: 'a"b' }, decodes: true },
  { name: 'non-ASCII key before t', bytes: utf8('{"ü€😀":1,"t":"ev"}'), want: { t: 'ev' }, decodes: true },
  { name: 'empty map', bytes: utf8(' { } '), want: NO_TYPE, decodes: true },
  { name: 'no t', bytes: utf8('{"a":1,"b":"ev"}'), want: NO_TYPE, decodes: true },
  { name: 't only in a nested map', bytes: utf8('{"a":{"t":"ev"}}'), want: NO_TYPE, decodes: true },
  { name: 't only inside an array', bytes: utf8('{"a":["t","ev"]}'), want: NO_TYPE, decodes: true },
  { name: '"t" only as a value', bytes: utf8('{"a":"t","b":"ev"}'), want: NO_TYPE, decodes: true },
  { name: 't is a number', bytes: utf8('{"t":1}'), want: NO_TYPE, decodes: true },
  { name: 't is null', bytes: utf8('{"t":null}'), want: NO_TYPE, decodes: true },
  { name: 't is true', bytes: utf8('{"t":true}'), want: NO_TYPE, decodes: true },
  { name: 't is a map', bytes: utf8('{"t":{"t":"ev"}}'), want: NO_TYPE, decodes: true },
  { name: 't is an array', bytes: utf8('{"t":["ev"]}'), want: NO_TYPE, decodes: true },
  { name: 'top level is an array', bytes: utf8('[{"t":"ev"}]'), want: UNDECODABLE },
  { name: 'top level is a string', bytes: utf8('"t"'), want: UNDECODABLE },
  { name: 'top level is a number', bytes: utf8('1'), want: UNDECODABLE },
  { name: 'top level is null', bytes: utf8('null'), want: UNDECODABLE },
  { name: 'empty input', bytes: utf8(''), want: UNDECODABLE },
  { name: 'only whitespace', bytes: utf8(' \n'), want: UNDECODABLE },
  { name: 'unquoted key', bytes: utf8('{t:"ev"}'), want: UNDECODABLE },
  { name: 'single quotes', bytes: utf8("{'t':'ev'}"), want: UNDECODABLE },
  { name: 'missing colon', bytes: utf8('{"a" 1,"t":"ev"}'), want: UNDECODABLE },
  { name: 'invalid UTF-8 in a key', bytes: Uint8Array.from([...utf8('{"'), 0xff, ...utf8('":1,"t":"ev"}')]), want: UNDECODABLE },
  { name: 'truncated inside the t value', bytes: utf8('{"t":"hel'), want: UNDECODABLE },
  { name: 'truncated after the t key', bytes: utf8('{"t":'), want: UNDECODABLE },
  { name: 'truncated after a comma', bytes: utf8('{"a":1,'), want: UNDECODABLE },
  { name: 'truncated inside a nested map', bytes: utf8('{"a":{"b":1}'), want: UNDECODABLE },
  { name: 'truncated inside a string value', bytes: utf8('{"a":"x'), want: UNDECODABLE },
  { name: 'only an opening brace', bytes: utf8('{'), want: UNDECODABLE },
];

t.test('peekJsonType', async (t) => {
  for (const c of jsonCases) {
    t.same(peekJsonType(c.bytes), c.want, c.name);
    if (c.decodes) {
      const t0 = decodeFrame(c.bytes, 'json').t;
      t.same(typeof t0 === 'string' ? { t: t0 } : NO_TYPE, c.want, `${c.name}: a full decode agrees`);
    }
  }
});

t.test('peekJsonType on every truncation before the end of the t value', async (t) => {
  const text = '{ "a": [1, {"b": "x\\"}"}], "c": null, "t": "ping", "z": 1 }';
  const end = text.indexOf('"ping"') + '"ping"'.length;
  t.same(peekJsonType(utf8(text)), { t: 'ping' });
  for (let n = 0; n < end; n++) t.same(peekJsonType(utf8(text.slice(0, n))), UNDECODABLE, `cut at ${n}: ${text.slice(0, n)}`);
});
