// The ingest fast path (issue P5): a batch whose events all resolve in memory is written with
// one plain INSERT into event_keys and COPYs into events and quarantine, in one transaction,
// instead of a COPY into staging plus one statement that joins and inserts with ON CONFLICT. It
// is optimistic about identity: event_keys' primary key rejects the INSERT if any event was
// stored before (a resend), and the caller then stores the batch through the staging path, which
// sorts out duplicates row by row. (The ledger is an INSERT from arrays, not a COPY: postgres.js
// 3.4 never settles a COPY the server rejects, porsager/postgres#1173; events and quarantine
// COPYs cannot be rejected for identity, they have no unique key of ours.) What cannot be resolved in memory (a credential, person or door this
// worker's copy does not know) also goes the staging path: PostgreSQL is the authority.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type postgres from 'postgres';
import type { QuarantineCode } from '../protocol/frames.js';
import { copyRow, type CopyValue } from './copy-text.js';
import type { Sql } from './db.js';

/** Staging columns, in the order stage() builds rows (ord first): see STAGING_COLUMNS in ingest.ts. */
const enum C { ord, org, site, device, source, boot, seq, ts, kind, credHash, personExt, doorCode, personId, doorId, dir, granted, reason, state, code, detail, rid, rule, data, qCode, qDetail, raw }

interface Maps {
  version: number;
  creds: Map<string, { id: string; personId: string }>; // `${org}|${credHashHex}`
  people: Map<string, string>; // `${org}|${externalId}` -> person id
  doors: Map<string, string>; // `${site}|${code}` -> door id
}

let maps: Maps | undefined;
let loading: Promise<Maps> | undefined;

/** The worker's copy of what resolves events, reloaded when the hub decides on a newer state version. */
export async function resolutionMaps(sql: Sql, version: number): Promise<Maps> {
  if (maps && maps.version >= version) return maps;
  loading ??= (async () => {
    try {
      return await sql.begin('ISOLATION LEVEL REPEATABLE READ READ ONLY', async (tx) => {
        const [v] = await tx`SELECT v FROM state_version`;
        const [creds, people, doors] = await Promise.all([
          tx<{ org_id: string; cred_hash: Buffer; id: string; person_id: string }[]>`SELECT org_id, cred_hash, id, person_id FROM credentials`,
          tx<{ org_id: string; external_id: string; id: string }[]>`SELECT org_id, external_id, id FROM people`,
          tx<{ site_id: string; code: string; id: string }[]>`SELECT site_id, code, id FROM doors`,
        ]);
        maps = {
          version: Number(v!.v),
          creds: new Map(creds.map((c) => [`${c.org_id}|${c.cred_hash.toString('hex')}`, { id: c.id, personId: c.person_id }])),
          people: new Map(people.map((p) => [`${p.org_id}|${p.external_id}`, p.id])),
          doors: new Map(doors.map((d) => [`${d.site_id}|${d.code}`, d.id])),
        };
        return maps;
      });
    } finally {
      loading = undefined;
    }
  })();
  return loading;
}

export interface FastRows { keys: { device: string[]; source: string[]; boot: number[]; seq: number[]; outcome: string[] }; events: string[]; quarantine: string[]; fq: Map<number, QuarantineCode>; nEvents: number; nQuarantined: number }

/**
 * Routes staged rows to the three tables in memory, as RESOLVE_AND_STORE does in SQL. Null when
 * a row needs PostgreSQL to resolve it.
 */
export function routeInMemory(rows: CopyValue[][], m: Maps): FastRows | null {
  const out: FastRows = { keys: { device: [], source: [], boot: [], seq: [], outcome: [] }, events: [], quarantine: [], fq: new Map(), nEvents: 0, nQuarantined: 0 };
  for (const r of rows) {
    const org = r[C.org] as string;
    const credHash = r[C.credHash] as string | null; // bytea in COPY text form: \x<hex>
    const cred = credHash === null ? undefined : m.creds.get(`${org}|${credHash.slice(2)}`);
    const personExt = r[C.personExt] as string | null;
    const person = (r[C.personId] as string | null) ?? cred?.personId ?? (personExt === null ? undefined : m.people.get(`${org}|${personExt}`)) ?? null;
    const doorCode = r[C.doorCode] as string | null;
    const door = (r[C.doorId] as string | null) ?? (doorCode === null ? null : m.doors.get(`${r[C.site]}|${doorCode}`) ?? null);
    const qCode = r[C.qCode] as QuarantineCode | null;
    if (!qCode) {
      if (r[C.kind] === 'punch' && credHash !== null && !cred) return null;
      if (r[C.kind] === 'punch' && personExt !== null && person === null) return null;
      if (doorCode !== null && door === null) return null;
    }
    const seq = r[C.seq] as number | null;
    const source = r[C.source] as 't' | 'h';
    const longSource = source === 'h' ? 'hub' : 'terminal';
    if (seq !== null) {
      out.keys.device.push(r[C.device] as string);
      out.keys.source.push(source);
      out.keys.boot.push(r[C.boot] as number);
      out.keys.seq.push(seq);
      out.keys.outcome.push(qCode ? 'q' : 's');
    }
    if (qCode) {
      out.fq.set(r[C.ord] as number, qCode);
      out.nQuarantined++;
      out.quarantine.push(copyRow([org, r[C.site], r[C.device], longSource, r[C.boot], seq, qCode, r[C.qDetail], r[C.raw] ?? '{}']));
    } else {
      out.nEvents++;
      out.events.push(copyRow([
        r[C.ts], org, r[C.site], r[C.device], longSource, r[C.boot], seq, r[C.kind], person, cred?.id ?? null, credHash, door,
        r[C.dir], r[C.granted], r[C.reason], r[C.state], r[C.code], r[C.detail], r[C.rid], r[C.rule], r[C.data],
      ]));
    }
  }
  return out;
}

const EVENT_COLUMNS = 'ts, org_id, site_id, device_id, source, boot, seq, kind, person_id, credential_id, cred_hash, door_id, dir, granted, reason, state, code, detail, rid, rule, data';

async function copyInto(tx: postgres.TransactionSql, table: string, rows: string[]): Promise<void> {
  if (rows.length === 0) return;
  const sink = await tx.unsafe(`COPY ${table} FROM STDIN`).writable();
  await pipeline(Readable.from([rows.join('')]), sink);
}

/** Writes routed rows in one transaction. Rejects with SQLSTATE 23505 when an event was stored before. */
export async function storeFast(sql: Sql, f: FastRows): Promise<void> {
  await sql.begin(async (tx) => {
    const k = f.keys;
    if (k.seq.length) {
      await tx`INSERT INTO event_keys (device_id, source, boot, seq, outcome)
               SELECT * FROM unnest(${k.device}::uuid[], ${k.source}::"char"[], ${k.boot}::bigint[], ${k.seq}::bigint[], ${k.outcome}::"char"[])`;
    }
    await copyInto(tx, `events (${EVENT_COLUMNS})`, f.events);
    await copyInto(tx, 'quarantine (org_id, site_id, device_id, source, boot, seq, code, detail, raw)', f.quarantine);
  });
}
