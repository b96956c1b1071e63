// The spool's record framing (protocol/spool.ts): clean segments read back whole; every way a
// crash can tear the last record stops reading there and keeps what came before.
import t from 'tap';
import { encodeRecord, readSegment, SPOOL_MAGIC } from '../../protocol/spool.js';

const payloads = [Buffer.from('first'), Buffer.alloc(1000, 7), Buffer.from('third')];
const clean = Buffer.concat([SPOOL_MAGIC, ...payloads.map((p) => encodeRecord(p))]);
const twoGood = SPOOL_MAGIC.byteLength + encodeRecord(payloads[0]!).byteLength + encodeRecord(payloads[1]!).byteLength;

t.test('a clean segment reads back every record', async (t) => {
  const read = readSegment(clean);
  t.same(read.records.map((r) => Buffer.from(r)), payloads);
  t.equal(read.tornBytes, 0);
  t.equal(read.torn, undefined);
  t.same(readSegment(SPOOL_MAGIC).records, [], 'an empty segment has no records');
});

t.test('a torn last record is detected and the records before it are kept', async (t) => {
  const flipped = Buffer.from(clean);
  flipped[flipped.byteLength - 2]! ^= 0xff; // a byte of the last payload
  const zeroLength = Buffer.concat([clean.subarray(0, twoGood), Buffer.alloc(12)]);
  const cases: { name: string; buf: Buffer; torn: string; tornBytes: number }[] = [
    { name: 'header cut short', buf: clean.subarray(0, twoGood + 5), torn: 'short_header', tornBytes: 5 },
    { name: 'payload cut short', buf: clean.subarray(0, clean.byteLength - 1), torn: 'short_payload', tornBytes: clean.byteLength - 1 - twoGood },
    { name: 'a flipped byte (CRC mismatch)', buf: flipped, torn: 'bad_crc', tornBytes: clean.byteLength - twoGood },
    { name: 'zeros where the record was to be (length 0)', buf: zeroLength, torn: 'bad_length', tornBytes: 12 },
  ];
  for (const c of cases) {
    const read = readSegment(c.buf);
    t.same(read.records.map((r) => Buffer.from(r)), payloads.slice(0, 2), `${c.name}: the two whole records are kept`);
    t.equal(read.torn, c.torn, `${c.name}: reported as ${c.torn}`);
    t.equal(read.tornBytes, c.tornBytes, `${c.name}: ${c.tornBytes} bytes ignored`);
  }
});

t.test('a file that is not a segment is refused with LINTEL_ERR_SPOOL_CORRUPT', async (t) => {
  for (const buf of [Buffer.from('hello world, not a spool'), Buffer.alloc(0), Buffer.from('LTPSPOO')]) {
    t.throws(() => readSegment(buf), { code: 'LINTEL_ERR_SPOOL_CORRUPT' });
  }
});
