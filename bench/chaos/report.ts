// The chaos run's result: one row per phase and the reconciliation, as a Markdown table for a
// person (stderr) and as one JSON object (stdout).
import type { Reconciliation } from './reconcile.js';

export interface PhaseRow {
  phase: string;
  fault: string;
  duration_s: number;
  sent: number; // punches the terminals numbered during the phase
  auth: { intended: number; sent: number; answered: number; granted: number; failed: number; not_connected: number; reasons: Record<string, number> };
  auth_rtt_p50_ms: number | null;
  auth_rtt_p99_ms: number | null; // from the intended send time, answered requests only
  hub_decision_p99_ms: number | null; // lintel_access_decision_seconds, this phase's scrapes
  hub_decisions: number;
  hub_start_ms: number | null; // a restarted hub: spawn to "hub listening"
  reconnected_ms: number | null; // from the restore point until every terminal had a session
  recovery_ms: number | null; // from the restore point until caught up (see CHAOS.md)
  busy: number;
  reconnects: number; // sessions re-established (welcomes beyond the first)
  attempts: number; // reconnect attempts (refused or failed ones included)
  refused_503: number;
  max_spool_bytes: number;
  generator_cpu_pct: number; // 100 = one core
  generator_loop_p99_ms: number;
  hung: string | null;
  notes: Record<string, unknown>;
}

const cell = (v: number | null | undefined, unit = '') => (v === null || v === undefined ? '-' : `${v}${unit}`);

export function markdown(rows: PhaseRow[], r: Reconciliation, head: string): string {
  const lines = [
    head,
    '',
    '| phase | fault | s | punches | auth ok/sent | auth p99 ms | hub decision p99 ms | hub start ms | reconnected ms | recovery ms | busy | reconnects | 503s | spool max KiB | gen cpu % |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((p) => `| ${p.phase} | ${p.fault} | ${p.duration_s} | ${p.sent} | ${p.auth.answered}/${p.auth.sent} | ${cell(p.auth_rtt_p99_ms)} | ${cell(p.hub_decision_p99_ms)} | ${cell(p.hub_start_ms)} | ${cell(p.reconnected_ms)} | ${p.hung ? `HUNG: ${p.hung}` : cell(p.recovery_ms)} | ${p.busy} | ${p.reconnects} | ${p.refused_503} | ${Math.round(p.max_spool_bytes / 1024)} | ${p.generator_cpu_pct} |`),
    '',
    '| events sent | acknowledged | stored | duplicated | missing | acked but missing | quarantined | event_keys |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${r.sent} | ${r.acknowledged} | ${r.stored} | ${r.duplicated} | ${r.missing} | ${r.acked_missing} | ${r.quarantined} | ${r.event_keys} |`,
  ];
  if (r.examples.length) lines.push('', `first problems (terminal index, seq): ${r.examples.map((e) => `${e.problem} ${e.device}/${e.seq}`).join(', ')}`);
  return lines.join('\n');
}
