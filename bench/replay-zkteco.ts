// Replays a real ZKTeco attendance export (attlog.dat) through LTP/1 as one time clock, then reconciles what the
// hub stored against the file from PostgreSQL: every line ends up stored, a duplicate, quarantined or rejected.
// Usage: npm run replay -- FILE --tz ZONE [--hub URL] [--org NAME] [--site NAME] [--device NAME]
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createAdminClient, type AdminClient } from '../hub/admin-client.js';
import { loadConfig, type Config } from '../hub/config.js';
import type { AttlogRecord, AttlogRejection } from './zkteco.js';
import { parseAttlog, punchDirection } from './zkteco.js';
import { Terminal } from './terminal.js';

export interface ReplayOptions {
  file: string;
  tz: string;
  hubUrl?: string;
  org?: string;
  site?: string;
  device?: string;
  config?: Readonly<Config>;
  /** Progress and rejected lines go here (the CLI passes stderr; tests stay quiet). */
  log?: (line: string) => void;
  /** Give up when no event is acked for this long (hub down, token refused). */
  stallMs?: number;
  /**
   * Where punch directions come from: 'state' (the punch-state column), 'unknown' (the terminal
   * does not say), or 'auto' (default): 'unknown' when one state covers over 99% of the records,
   * the sign of a device whose state key nobody presses (this export: state 0 on 10,590 of 10,613).
   */
  directions?: 'auto' | 'state' | 'unknown';
}

type Counts = Record<string, number>;

export interface Summary {
  lines: number;
  stored: number;
  duplicates: number;
  quarantined: number;
  rejected: number;
  /** lines = stored + duplicates + quarantined + rejected, and the hub's ledger agrees (see reconcile). */
  balanced: boolean;
  records: number;
  sent: number;
  acked: number;
  busy: number;
  resends: number;
  keys_new: number;
  quarantine_reasons: Counts;
  rejected_reasons: Counts;
  device_totals: { events: number; quarantined: number; keys: number; quarantine_reasons: Counts };
  org: string;
  site: string;
  device: string;
  device_id: string;
  elapsed_ms: number;
  send_ms: number;
  events_per_s: number;
  directions: 'state' | 'unknown';
}

const BOOT = 1; // a file has one sequence space: line numbers
const REJECTION_EXAMPLES = 5;
const FATAL_CLOSES = new Set([1008, 4001, 4003]); // PROTOCOL section 8: the terminal must stop

export async function runReplay(opts: ReplayOptions): Promise<Summary> {
  const started = performance.now();
  const log = opts.log ?? (() => {});
  const config = opts.config ?? loadConfig();
  const parse = parseAttlog(await readFile(opts.file), opts.tz);
  reportRejections(parse.rejected, log);

  // An exact duplicate line is the same punch read twice: it keeps the first occurrence's seq, so the hub sees a
  // resend of one identity rather than a second punch.
  const firstSeq = new Map<string, number>();
  const unique: AttlogRecord[] = [];
  const resends: { record: AttlogRecord; seq: number }[] = [];
  for (const r of parse.records) {
    const seen = firstSeq.get(r.raw);
    if (seen === undefined) { firstSeq.set(r.raw, r.line); unique.push(r); } else resends.push({ record: r, seq: seen });
  }

  const org = opts.org ?? 'zkteco-replay';
  const site = opts.site ?? `${path.basename(opts.file)} (${opts.tz})`;
  const deviceName = opts.device ?? 'time-clock';
  const pins = [...new Set(parse.records.filter((r) => r.pinWellFormed).map((r) => r.pin))];
  const directions = chooseDirections(parse.records, opts.directions ?? 'auto');
  const punch = (r: AttlogRecord, seq: number) => toPunch(r, seq, directions);

  const admin = await createAdminClient(config);
  try {
    const provisioned = await admin.run<{ devices: { id: string; name: string; token: string }[] }>('bulkProvision', {
      org, site, tz: opts.tz, doors: [], devices: [deviceName], people: pins.map((pin) => ({ externalId: pin, creds: [pin] })),
    });
    const device = provisioned.devices[0];
    if (!device) throw new Error('bulkProvision returned no device');
    const behind = await admin.settle();
    if (behind.length) log(`warning: hubs not yet on the new state: ${behind.join(', ')}`);
    log(`provisioned ${org} / ${site} / ${deviceName}: ${pins.length} people; sending ${parse.records.length} punches`);

    const before = await deviceCounts(admin, device.id);
    const sendStarted = performance.now();
    const term = new Terminal({ url: opts.hubUrl ?? `ws://127.0.0.1:${config.port}/v1/terminal`, token: device.token, encoding: 'msgpack', boot: BOOT });
    let stats;
    try {
      await term.connect();
      // Seqs must rise in production order; Terminal.flush sends its outbox sorted by seq.
      for (const r of unique) term.enqueue(punch(r, r.line));
      await drained(term, opts.stallMs ?? 60_000);
      // Resends go after their originals are acked: queued together they would share one outbox slot, and the
      // hub would never see the second read.
      for (const { record, seq } of resends) term.enqueue(punch(record, seq));
      await drained(term, opts.stallMs ?? 60_000);
      stats = term.stats;
    } finally {
      await term.close();
    }
    const sendMs = performance.now() - sendStarted;
    const after = await deviceCounts(admin, device.id);

    const stored = after.events - before.events;
    const quarantined = after.quarantined - before.quarantined;
    const keysNew = after.keys - before.keys;
    const acked = stats.acked;
    const duplicates = acked - stored - quarantined;
    const sent = parse.records.length;
    const rejected = parse.rejected.length;
    // The equation alone could hide offsetting errors, so the ledger must agree too: each new identity is in
    // event_keys exactly once, as stored or quarantined, and every punch sent was acked.
    const balanced = parse.lines === stored + duplicates + quarantined + rejected
      && acked === sent && duplicates >= 0 && keysNew === stored + quarantined;
    const quarantineReasons: Counts = {};
    for (const [code, n] of Object.entries(after.reasons)) {
      const d = n - (before.reasons[code] ?? 0);
      if (d) quarantineReasons[code] = d;
    }
    const rejectedReasons: Counts = {};
    for (const r of parse.rejected) rejectedReasons[r.reason] = (rejectedReasons[r.reason] ?? 0) + 1;
    return {
      lines: parse.lines, stored, duplicates, quarantined, rejected, balanced,
      records: parse.records.length, sent, acked, busy: stats.busy, resends: resends.length, keys_new: keysNew,
      quarantine_reasons: quarantineReasons, rejected_reasons: rejectedReasons,
      device_totals: { events: after.events, quarantined: after.quarantined, keys: after.keys, quarantine_reasons: after.reasons },
      org, site, device: deviceName, device_id: device.id,
      elapsed_ms: Math.round(performance.now() - started),
      send_ms: Math.round(sendMs),
      events_per_s: Math.round(sent / (sendMs / 1000)),
      directions,
    };
  } finally {
    await admin.close();
  }
}

export function chooseDirections(records: AttlogRecord[], mode: 'auto' | 'state' | 'unknown'): 'state' | 'unknown' {
  if (mode !== 'auto') return mode;
  const byState = new Map<number, number>();
  for (const r of records) byState.set(r.state, (byState.get(r.state) ?? 0) + 1);
  const top = Math.max(0, ...byState.values());
  return records.length > 0 && top / records.length > 0.99 ? 'unknown' : 'state';
}

function toPunch(r: AttlogRecord, seq: number, directions: 'state' | 'unknown') {
  // cred is the PIN as the device wrote it, garbage included: resolving it is the hub's job (unknown_credential).
  const dir = directions === 'state' ? punchDirection(r.state) : 'unknown';
  return { seq, ts: r.ts, kind: 'punch', cred: r.pin, dir, data: { verify: r.verify, work_code: r.workCode, line: r.line, state: r.state } };
}

/** Waits until every queued event is acked; fails when acks stop coming or the hub tells the terminal to stop. */
async function drained(term: Terminal, stallMs: number): Promise<void> {
  let fatal: number | undefined;
  const onClose = (code: number) => { if (FATAL_CLOSES.has(code)) fatal = code; };
  term.on('close', onClose);
  try {
    let acked = term.stats.acked;
    let lastProgress = Date.now();
    const done = term.drained().then(() => true);
    for (;;) {
      const finished = await Promise.race([done, new Promise<false>((r) => setTimeout(() => r(false), 200))]);
      if (finished) return;
      if (fatal !== undefined) throw new Error(`hub closed the session with ${fatal}; ${term.outbox.size} events unacked`);
      if (term.stats.acked !== acked) { acked = term.stats.acked; lastProgress = Date.now(); }
      if (Date.now() - lastProgress > stallMs) throw new Error(`no ack for ${stallMs} ms; ${term.outbox.size} events unacked`);
    }
  } finally {
    term.off('close', onClose);
  }
}

interface DeviceCounts { events: number; quarantined: number; keys: number; reasons: Counts }

async function deviceCounts(admin: AdminClient, deviceId: string): Promise<DeviceCounts> {
  const q = <T>(text: string) => admin.run<T[]>('query', { text, params: [deviceId] });
  const [[events], [keys], reasons] = await Promise.all([
    q<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE device_id = $1 AND source = 'terminal'`),
    q<{ n: number }>(`SELECT count(*)::int AS n FROM event_keys WHERE device_id = $1 AND source = 't' AND boot = ${BOOT}`),
    q<{ code: string; n: number }>(`SELECT code, count(*)::int AS n FROM quarantine WHERE device_id = $1 AND source = 'terminal' GROUP BY code ORDER BY code`),
  ]);
  const byCode: Counts = {};
  for (const r of reasons) byCode[r.code] = r.n;
  return { events: events?.n ?? 0, keys: keys?.n ?? 0, quarantined: reasons.reduce((s, r) => s + r.n, 0), reasons: byCode };
}

// A corrupted dump can reject hundreds of identical lines: a count per reason plus the first few lines says as
// much as all of them and keeps the terminal readable.
function reportRejections(rejected: AttlogRejection[], log: (line: string) => void): void {
  if (!rejected.length) return;
  const byReason = new Map<string, number>();
  for (const r of rejected) byReason.set(r.reason, (byReason.get(r.reason) ?? 0) + 1);
  log(`rejected ${rejected.length} lines:`);
  for (const [reason, n] of byReason) log(`  ${String(n).padStart(6)}  ${reason}`);
  for (const r of rejected.slice(0, REJECTION_EXAMPLES)) log(`  line ${r.line}: ${r.reason}: ${JSON.stringify(r.raw)}`);
  if (rejected.length > REJECTION_EXAMPLES) log(`  ... and ${rejected.length - REJECTION_EXAMPLES} more`);
}

export function formatReconciliation(s: Summary): string {
  const row = (label: string, run: number | string, total: number | string = '') =>
    `${label.padEnd(24)}${String(run).padStart(10)}${String(total).padStart(14)}`;
  const lines = [
    `reconciliation for ${s.org} / ${s.site} / ${s.device} (${s.device_id}), read back from PostgreSQL`,
    row('outcome', 'this run', 'device total'),
    row('lines in file', s.lines),
    row('rejected by parser', s.rejected),
    row('stored', s.stored, s.device_totals.events),
    row('duplicates', s.duplicates),
    row('quarantined', s.quarantined, s.device_totals.quarantined),
    row('identities (event_keys)', s.keys_new, s.device_totals.keys),
    row('acked / sent', `${s.acked}/${s.sent}`),
    row('punch directions', s.directions === 'state' ? 'from state' : 'unknown'),
    row(s.balanced ? 'balanced' : 'NOT BALANCED', `${s.stored + s.duplicates + s.quarantined + s.rejected}`, `= ${s.lines}?`),
    '',
    row('quarantine reason', 'this run', 'device total'),
  ];
  const codes = new Set([...Object.keys(s.quarantine_reasons), ...Object.keys(s.device_totals.quarantine_reasons)]);
  if (!codes.size) lines.push(row('(none)', 0, 0));
  for (const code of [...codes].sort()) lines.push(row(code, s.quarantine_reasons[code] ?? 0, s.device_totals.quarantine_reasons[code] ?? 0));
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      tz: { type: 'string' }, hub: { type: 'string' }, directions: { type: 'string' }, org: { type: 'string' }, site: { type: 'string' }, device: { type: 'string' },
    },
  });
  const [file] = positionals;
  if (!file || !values.tz || positionals.length > 1 || (values.directions && !['auto', 'state', 'unknown'].includes(values.directions))) {
    process.stderr.write('usage: npm run replay -- FILE --tz ZONE [--hub ws://HOST:PORT/v1/terminal] [--org NAME] [--site NAME] [--device NAME] [--directions auto|state|unknown]\n');
    process.exitCode = 2;
    return;
  }
  // npm runs scripts from the package root; a relative path means relative to where the user typed it.
  const summary = await runReplay({
    file: path.resolve(process.env.INIT_CWD ?? process.cwd(), file), tz: values.tz, hubUrl: values.hub,
    org: values.org, site: values.site, device: values.device, directions: values.directions as 'auto' | 'state' | 'unknown' | undefined,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${formatReconciliation(summary)}\n`);
  if (!summary.balanced) {
    process.stderr.write('reconciliation failed: lines != stored + duplicates + quarantined + rejected, or the ledger disagrees\n');
    process.exitCode = 1;
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((err: Error) => {
    process.stderr.write(`replay failed: ${err.message}\n`);
    process.exitCode = 1;
  });
}
