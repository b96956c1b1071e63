// The local spool's on-disk format (issue P4), shared by the hub (writer) and the ingest worker
// (reader). Pure: no I/O here.
//
// A segment file is the 8-byte magic "LTPSPOOL" followed by records:
//   u32 length (big-endian) | u32 CRC-32 of the payload | payload
// and a payload is one batch's rows in PostgreSQL COPY text format (UTF-8), exactly as the live
// path would have copied them: validated, classified, credentials already HMAC'd.
// A record is acked only after it is completely written and fsynced, so a crash can leave at
// most the last record torn: a short header, a length past the end of the file, or a CRC that
// does not match. Reading stops there; everything after it is ignored (it was never acked).
import { crc32 } from 'node:zlib';

export const SPOOL_MAGIC = Buffer.from('LTPSPOOL', 'latin1');
export const SPOOL_RECORD_HEADER = 8;
/** A record larger than this is corrupt by definition (a batch is at most LINTEL_BATCH_MAX_BYTES plus framing). */
export const SPOOL_MAX_RECORD = 256 * 1024 * 1024;

export function encodeRecord(payload: Uint8Array): Buffer {
  const header = Buffer.allocUnsafe(SPOOL_RECORD_HEADER);
  header.writeUInt32BE(payload.byteLength, 0);
  header.writeUInt32BE(crc32(payload), 4);
  return Buffer.concat([header, payload]);
}

export interface SegmentRead {
  records: Buffer[];
  /** Bytes after the last good record (0 for a clean segment). */
  tornBytes: number;
  /** Why reading stopped early, when it did. */
  torn?: 'short_header' | 'short_payload' | 'bad_length' | 'bad_crc';
}

/** Splits a segment into its records. Throws only when the file is not a spool segment at all. */
export function readSegment(buf: Buffer): SegmentRead {
  if (buf.byteLength < SPOOL_MAGIC.byteLength || !buf.subarray(0, SPOOL_MAGIC.byteLength).equals(SPOOL_MAGIC)) {
    throw Object.assign(new Error('not a Lintel spool segment (bad magic)'), { code: 'LINTEL_ERR_SPOOL_CORRUPT' });
  }
  const records: Buffer[] = [];
  let at = SPOOL_MAGIC.byteLength;
  const stop = (torn: SegmentRead['torn']): SegmentRead => ({ records, tornBytes: buf.byteLength - at, torn });
  while (at < buf.byteLength) {
    if (buf.byteLength - at < SPOOL_RECORD_HEADER) return stop('short_header');
    const length = buf.readUInt32BE(at);
    const crc = buf.readUInt32BE(at + 4);
    if (length === 0 || length > SPOOL_MAX_RECORD) return stop('bad_length');
    if (at + SPOOL_RECORD_HEADER + length > buf.byteLength) return stop('short_payload');
    const payload = buf.subarray(at + SPOOL_RECORD_HEADER, at + SPOOL_RECORD_HEADER + length);
    if (crc32(payload) !== crc) return stop('bad_crc');
    records.push(payload);
    at += SPOOL_RECORD_HEADER + length;
  }
  return { records, tornBytes: 0 };
}
