// Turns one decoded event into a staging row or a quarantine verdict (PROTOCOL section 4).
// Pure: the SQL that follows only resolves credentials, people and doors.
import { credentialHasher } from '../protocol/credential-hash.js';
import { encodedSize } from '../protocol/codec.js';
import { EVENT_KINDS, MAX_EVENT_DATA_BYTES, type Encoding, type EventKind, type QuarantineCode } from '../protocol/frames.js';
import { compileEventValidators, describeErrors } from '../protocol/schemas.js';

const validators = compileEventValidators();
const MAX_JSON_DEPTH = 16;
// NUL, and half a UTF-16 surrogate pair (JSON can name one: "\ud800"): PostgreSQL rejects both in
// jsonb, and a rejected COPY fails the whole batch, other terminals' events with it.
const UNSTORABLE = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export interface ClassifyOptions { now: number; maxAgeMs: number; maxFutureMs: number; credentialKey: Buffer; encoding: Encoding }

export interface EventRow {
  seq: number | null;
  ts: number | null;
  kind: string;
  credHash: string | null;
  personExt: string | null;
  doorCode: string | null;
  dir: string | null;
  granted: boolean | null;
  reason: string | null;
  state: string | null;
  code: string | null;
  detail: string | null;
  rid: number | null;
  data: unknown;
  qCode: QuarantineCode | null;
  qDetail: string | null;
  raw: unknown;
  /** The event as received, when the store may still quarantine it: `rawOf` makes its raw then. */
  rawSource?: unknown;
}

let hasher: { key: Buffer; hash: (cred: string) => string } | undefined;

/** HMAC of a credential identifier, remembered (protocol/credential-hash.ts): a shift change's punches cost a lookup each. */
export function credentialHash(key: Buffer, cred: string): string {
  if (hasher?.key !== key) hasher = { key, hash: credentialHasher(key) };
  return hasher.hash(cred);
}

/** A JSON-safe copy for jsonb: no NUL characters or lone surrogates (PostgreSQL rejects them), bounded depth. */
export function jsonSafe(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.replace(UNSTORABLE, '\uFFFD');
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value === 'boolean') return value;
  if (value === undefined) return null;
  if (depth >= MAX_JSON_DEPTH) return '[nested too deeply]';
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (Array.isArray(value)) return value.map((v) => jsonSafe(v, depth + 1));
  if (typeof value === 'object') {
    // No prototype: a `__proto__` key from a terminal stays a plain key instead of vanishing.
    const out: Record<string, unknown> = Object.create(null);
    for (const [k, v] of Object.entries(value)) out[k.replace(UNSTORABLE, '\uFFFD')] = jsonSafe(v, depth + 1);
    return out;
  }
  return String(value);
}

const str = (v: unknown) => (typeof v === 'string' ? v : null);

/** The event as received, for quarantine: the credential identifier only as its keyed hash. */
export function rawOf(event: unknown, key: Buffer): unknown {
  const raw = jsonSafe(event);
  if (raw && typeof raw === 'object' && !Array.isArray(raw) && 'cred' in raw) {
    const r = raw as Record<string, unknown>;
    if (typeof r.cred === 'string') r.cred_hmac = credentialHash(key, r.cred);
    delete r.cred;
  }
  return raw;
}

/** Marks the row quarantined; raw keeps the event as received (credentials hashed). */
function quarantine(row: EventRow, event: unknown, opts: ClassifyOptions, code: QuarantineCode, detail: string): EventRow {
  row.qCode = code;
  row.qDetail = detail;
  row.raw = rawOf(event, opts.credentialKey);
  return row;
}

export function classify(event: unknown, opts: ClassifyOptions): EventRow {
  const row: EventRow = {
    seq: null, ts: null, kind: 'unknown', credHash: null, personExt: null, doorCode: null, dir: null,
    granted: null, reason: null, state: null, code: null, detail: null, rid: null, data: null,
    qCode: null, qDetail: null, raw: null,
  };
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return quarantine(row, event, opts, 'bad_seq', 'event is not a map');
  const e = event as Record<string, unknown>;
  if (typeof e.seq !== 'number' || !Number.isSafeInteger(e.seq) || e.seq < 1) {
    return quarantine(row, event, opts, 'bad_seq', 'seq must be a positive integer below 2^53');
  }
  row.seq = e.seq;
  row.kind = typeof e.kind === 'string' ? e.kind.slice(0, 64) : 'unknown';
  if (!EVENT_KINDS.includes(e.kind as EventKind)) return quarantine(row, event, opts, 'unknown_kind', `unknown kind ${JSON.stringify(jsonSafe(e.kind))}`);
  const validate = validators[e.kind as EventKind];
  if (!validate(e)) return quarantine(row, event, opts, 'bad_field', describeErrors(validate));
  if (typeof e.ts !== 'number' || !Number.isSafeInteger(e.ts)) return quarantine(row, event, opts, 'bad_field', '/ts must be an integer');
  if (e.ts < opts.now - opts.maxAgeMs || e.ts > opts.now + opts.maxFutureMs) {
    return quarantine(row, event, opts, 'implausible_time', `ts ${e.ts} is outside the accepted window`);
  }
  row.ts = e.ts;
  if (e.data !== undefined) {
    let size: number;
    try {
      size = encodedSize(e.data, opts.encoding);
    } catch {
      size = Infinity; // nested too deep to re-encode, or a BigInt past 64 bits: over the limit either way
    }
    if (size > MAX_EVENT_DATA_BYTES) return quarantine(row, event, opts, 'data_too_large', 'data over 1 KiB encoded');
    row.data = jsonSafe(e.data);
  }
  const cred = str(e.cred);
  if (cred !== null) row.credHash = credentialHash(opts.credentialKey, cred);
  row.personExt = str(e.person);
  row.doorCode = str(e.door);
  row.dir = str(e.dir);
  row.granted = typeof e.granted === 'boolean' ? e.granted : null;
  row.reason = str(e.reason);
  row.state = str(e.state);
  row.code = str(e.code);
  row.detail = str(e.detail);
  row.rid = Number.isSafeInteger(e.rid) ? (e.rid as number) : null; // only access events check rid; a bigint column takes no NaN or 1.5
  // The store may still quarantine it (unknown_credential, unknown_person, unknown_door): the
  // quarantine row then needs the event as received (`rawOf`), made only if it goes that way.
  if ((row.kind === 'punch' && (row.credHash !== null || row.personExt !== null)) || row.doorCode !== null) row.rawSource = event;
  return row;
}
