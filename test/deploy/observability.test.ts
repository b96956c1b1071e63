// Issue P6, deployable: the compose deployment's alert rules and Grafana dashboard parse, and every
// metric they use is one a real hub exports (its /metrics after some traffic), so a renamed metric
// cannot leave a silent alert or an empty panel. Config files are cross-checked with the compose
// file; promtool and haproxy, where installed, validate the files and run the rule unit tests.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { CONFIG_VARIABLES, PROJECT_ROOT } from '../../hub/config.js';
import { provisionSite, startTestHub } from '../helpers/hub.js';

const run = promisify(execFile);
const DEPLOY = path.join(PROJECT_ROOT, 'deploy');
const read = (rel: string) => readFile(path.join(DEPLOY, rel), 'utf8');
const yaml = async (rel: string): Promise<any> => parseYaml(await read(rel), { merge: true });

// --- what the hub exports ---------------------------------------------------------------------

interface Family { type: string; labels: Set<string> }

/** Metric families from the `# TYPE` lines, with the label names seen on their samples. */
function parseExposition(text: string): Map<string, Family> {
  const fams = new Map<string, Family>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) fams.set(m[1]!, { type: m[2]!, labels: new Set() });
  for (const m of text.matchAll(/^([a-zA-Z_:][\w:]*)\{([^}]*)\} /gm)) {
    const fam = familyOf(fams, m[1]!);
    if (!fam) continue;
    for (const l of m[2]!.matchAll(/([a-zA-Z_]\w*)="/g)) fam.labels.add(l[1]!);
  }
  return fams;
}

/** The family a series name belongs to: histogram/summary parts, and `_total` of a counter. */
function familyOf(fams: Map<string, Family>, name: string): Family | undefined {
  const exact = fams.get(name);
  if (exact) return exact;
  const part = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (part) {
    const f = fams.get(part[1]!);
    if (f && (f.type === 'histogram' || (f.type === 'summary' && part[2] !== 'bucket'))) return f;
  }
  const total = /^(.*)_total$/.exec(name);
  const f = total && fams.get(total[1]!);
  return f && f.type === 'counter' ? f : undefined;
}

// --- what a PromQL expression refers to --------------------------------------------------------

const FUNCTIONS = new Set(`abs absent absent_over_time avg_over_time ceil changes clamp clamp_max clamp_min
  count_over_time day_of_month day_of_week day_of_year days_in_month delta deriv exp floor
  histogram_avg histogram_count histogram_fraction histogram_quantile histogram_stddev histogram_stdvar
  histogram_sum holt_winters double_exponential_smoothing hour idelta increase irate label_join
  label_replace last_over_time ln log10 log2 mad_over_time max_over_time min_over_time minute month
  predict_linear present_over_time quantile_over_time rate resets round scalar sgn sort sort_desc
  sort_by_label sort_by_label_desc sqrt stddev_over_time stdvar_over_time sum_over_time time timestamp
  vector year acos acosh asin asinh atan atanh cos cosh deg pi rad sin sinh tan tanh
  sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio`.split(/\s+/));
const KEYWORDS = new Set(['and', 'or', 'unless', 'atan2', 'bool', 'offset', 'inf', 'nan', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
/** Labels Prometheus adds to every hub series from prometheus.yml (job, instance, and `hub`). */
const TARGET_LABELS = new Set(['job', 'instance', 'hub', 'le']);
/** Series Prometheus records itself for each scrape. */
const SCRAPE_SERIES = new Set(['up']);

interface Refs { metrics: Set<string>; labels: Set<string>; functions: Set<string> }

function promqlRefs(exprIn: string): Refs {
  const refs: Refs = { metrics: new Set(), labels: new Set(), functions: new Set() };
  let e = exprIn
    .replace(/\$__(rate_interval|interval|range)\b/g, '5m') // Grafana's variables
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals
    .replace(/#[^\n]*/g, ''); // comments
  e = e.replace(/\{([^}]*)\}/g, (_, inner: string) => {
    for (const m of inner.matchAll(/([a-zA-Z_]\w*)\s*(=~|!~|!=|=)/g)) refs.labels.add(m[1]!);
    return ' ';
  });
  e = e.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_, _kw: string, inner: string) => {
    for (const l of inner.split(',').map((s) => s.trim()).filter(Boolean)) refs.labels.add(l);
    return ' ';
  });
  e = e.replace(/\[[^\]]*\]/g, ' ').replace(/\boffset\s+-?[\dsmhdwy]+/g, ' ');
  for (const m of e.matchAll(/(\d+(?:\.\d+)?(?:e[+-]?\d+)?)|([a-zA-Z_:][\w:]*)(\s*\()?/gi)) {
    if (m[1] !== undefined) continue;
    const id = m[2]!;
    if (KEYWORDS.has(id.toLowerCase())) continue;
    if (m[3]) refs.functions.add(id);
    else refs.metrics.add(id);
  }
  return refs;
}

// --- the files ---------------------------------------------------------------------------------

interface Expr { where: string; expr: string }

async function alertExprs(): Promise<Expr[]> {
  const rules = await yaml('prometheus/alerts.yml');
  return rules.groups.flatMap((g: any) => g.rules.map((r: any) => ({ where: `alert ${r.alert}`, expr: String(r.expr) })));
}

function dashboardPanels(d: any): any[] {
  return (d.panels ?? []).flatMap((p: any) => [p, ...(p.panels ?? [])]);
}

async function dashboardExprs(): Promise<Expr[]> {
  const d = JSON.parse(await read('grafana/dashboards/lintel.json'));
  return dashboardPanels(d).flatMap((p: any) => (p.targets ?? []).map((tg: any) => ({ where: `panel "${p.title}" ${tg.refId}`, expr: String(tg.expr) })));
}

// --- a real hub, with enough traffic that the labelled series show up --------------------------

const th = await startTestHub(t);
const site = await provisionSite(th);
const term = th.terminal(site.token);
await term.connect();
await term.auth('card-nobody-has', site.door); // lintel_access_decisions_total{reason}
term.enqueue({ ts: Date.now(), kind: 'door', door: site.door, state: 'opened' });
await term.drained(); // lintel_ingest_* and lintel_site_events_received_total{site}
await term.ping();
term.sendFrame({ t: 'no-such-frame' }); // lintel_bad_frames_total{code}
await term.next('error');
await term.close(); // lintel_terminal_closes_total{code}
const exposition = await (await fetch(`${th.httpUrl}/metrics`)).text();
const families = parseExposition(exposition);

const seenLabels = new Set([...families.values()].flatMap((f) => [...f.labels]));
const known = (name: string) => SCRAPE_SERIES.has(name) || familyOf(families, name) !== undefined;

t.test('the metric checker tells exported names from others', async (t) => {
  t.ok(families.size > 40, `the hub exports ${families.size} families`);
  const refs = promqlRefs('sum by (hub, le) (rate(lintel_ingest_ack_seconds_bucket{job="x"}[5m])) / on (instance) lintel_nope_total offset 1w > 1e-3');
  t.same([...refs.metrics].sort(), ['lintel_ingest_ack_seconds_bucket', 'lintel_nope_total']);
  t.same([...refs.labels].sort(), ['hub', 'instance', 'job', 'le']);
  t.same([...refs.functions].sort(), ['rate', 'sum']);
  t.ok(known('lintel_ingest_ack_seconds_bucket'), 'a histogram\'s _bucket');
  t.ok(known('lintel_ingest_events_received_total'), 'a counter');
  t.notOk(known('lintel_nope_total'), 'an unknown name');
  t.notOk(known('lintel_terminals_connected_bucket'), 'a gauge has no buckets');
});

t.test('every metric, function and label the alert rules and the dashboard use exists', async (t) => {
  const exprs = [...(await alertExprs()), ...(await dashboardExprs())];
  t.ok(exprs.length > 40, `${exprs.length} expressions`);
  const used = new Set<string>();
  const problems: string[] = [];
  for (const { where, expr } of exprs) {
    const refs = promqlRefs(expr);
    if (refs.metrics.size === 0) problems.push(`${where}: no metric in ${expr}`);
    for (const m of refs.metrics) { used.add(m); if (!known(m)) problems.push(`${where}: ${m} is not exported`); }
    for (const f of refs.functions) if (!FUNCTIONS.has(f)) problems.push(`${where}: unknown function ${f}`);
    for (const l of refs.labels) if (!seenLabels.has(l) && !TARGET_LABELS.has(l)) problems.push(`${where}: no series has label ${l}`);
  }
  t.same(problems, [], 'no unknown metric, function or label');
  t.ok(used.size >= 30, `${used.size} distinct series names used`);
  // Metrics the brief's panels and alerts stand on, by name, so none is dropped unnoticed.
  for (const m of ['lintel_terminals_connected', 'lintel_ingest_events_received_total', 'lintel_ingest_ack_seconds_bucket', 'lintel_ingest_events_busy_total',
    'lintel_spool_bytes', 'lintel_spool_capacity_bytes', 'lintel_access_decision_seconds_bucket', 'lintel_ingest_events_stored_total',
    'lintel_terminal_clock_skew_seconds_bucket', 'lintel_store_up', 'lintel_hub_degraded', 'lintel_site_events_received_total', 'up']) {
    t.ok(used.has(m), `${m} is used`);
  }
});

t.test('the per-site counter carries the site id the silence alert groups by', async (t) => {
  const line = exposition.split('\n').find((l) => l.startsWith('lintel_site_events_received_total{'));
  t.ok(line, 'a series after one event');
  t.match(line ?? '', `site="${site.siteId}"`);
  t.equal(/site="[^"]*"\} (\d+)/.exec(line ?? '')?.[1], '1', 'one event received from the site');
});

t.test('alert rules: Prometheus rule format, each with severity and summary', async (t) => {
  const rules = await yaml('prometheus/alerts.yml');
  t.ok(Array.isArray(rules.groups) && rules.groups.length > 0, 'groups');
  const names: string[] = [];
  for (const g of rules.groups) {
    t.type(g.name, 'string');
    t.ok(Array.isArray(g.rules) && g.rules.length > 0, `group ${g.name} has rules`);
    for (const r of g.rules) {
      names.push(r.alert);
      t.match(r, { alert: /^Lintel[A-Z]\w+$/, expr: String, for: /^\d+[smh]$/, labels: { severity: /^(critical|warning)$/ }, annotations: { summary: String } }, r.alert);
      t.same(Object.keys(r).filter((k) => !['alert', 'expr', 'for', 'labels', 'annotations', 'keep_firing_for'].includes(k)), [], `${r.alert}: no unknown keys`);
    }
  }
  t.equal(new Set(names).size, names.length, 'alert names are unique');
  for (const a of ['LintelHubDown', 'LintelAllHubsDown', 'LintelStoreUnavailable', 'LintelHubDegraded', 'LintelSpoolGrowing', 'LintelSpoolNearFull',
    'LintelBusyRateHigh', 'LintelSiteSilentAtShiftChange', 'LintelDecisionSlow']) t.ok(names.includes(a), `${a} is defined`);
});

t.test('dashboard: panels for each concern, all on the provisioned data source', async (t) => {
  const d = JSON.parse(await read('grafana/dashboards/lintel.json'));
  const ds = await yaml('grafana/provisioning/datasources/prometheus.yaml');
  const uid = ds.datasources[0].uid;
  t.match(ds.datasources[0], { type: 'prometheus', url: 'http://prometheus:9090' });
  t.match(d, { uid: String, title: String, schemaVersion: Number });
  const panels = dashboardPanels(d);
  const ids = panels.map((p) => p.id);
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of panels.filter((p) => p.type !== 'row')) {
    t.equal(p.datasource?.uid, uid, `"${p.title}" uses the provisioned data source`);
    t.ok(p.targets?.length > 0 && p.targets.every((tg: any) => tg.datasource?.uid === uid && typeof tg.expr === 'string' && tg.refId), `"${p.title}" has queries`);
    t.ok(p.gridPos.x + p.gridPos.w <= 24, `"${p.title}" fits the grid`);
  }
  const titles = panels.map((p) => String(p.title));
  for (const want of ['Connected terminals', 'Ingest rate', 'Ingest latency', 'Busy rate', 'Spool depth', 'Decision time p99', 'Loss accounting', 'Clock skew']) {
    t.ok(titles.includes(want), `panel "${want}"`);
  }
  const provider = await yaml('grafana/provisioning/dashboards/lintel.yaml');
  t.equal(provider.providers[0].options.path, '/etc/grafana/dashboards', 'the provider reads where compose mounts the dashboards');
});

t.test('compose: two hubs on one PostgreSQL, each with its own spool volume, and their wiring', async (t) => {
  const c = await yaml('compose.yaml');
  const services = Object.keys(c.services).sort();
  t.same(services, ['grafana', 'hub-1', 'hub-2', 'lb', 'postgres', 'prometheus'].sort());
  t.match(c.services, { postgres: { image: 'postgres:18' }, lb: { image: /^haproxy:3\./ }, prometheus: { image: /^prom\/prometheus:/ }, grafana: { image: /^grafana\/grafana:/ } });
  const hubs = ['hub-1', 'hub-2'].map((n) => c.services[n]);
  const envNames = new Set<string>([...CONFIG_VARIABLES]);
  for (const [i, h] of hubs.entries()) {
    t.ok(existsSync(path.resolve(DEPLOY, h.build.context, h.build.dockerfile)), 'builds the project\'s Dockerfile');
    t.same(Object.keys(h.environment).filter((k) => !envNames.has(k)), [], 'only variables the hub reads');
    t.match(h.environment, { LINTEL_HUB_ID: `hub-${i + 1}`, LINTEL_DATA_DIR: '/data', DATABASE_URL: /@postgres:5432\//, LINTEL_CREDENTIAL_KEY: /\$\{LINTEL_CREDENTIAL_KEY/ });
    t.same(h.depends_on, { postgres: { condition: 'service_healthy' } });
  }
  t.equal(hubs[0].environment.LINTEL_CREDENTIAL_KEY, hubs[1].environment.LINTEL_CREDENTIAL_KEY, 'one credential key for both hubs');
  const dataVolumes = hubs.map((h) => h.volumes.find((v: string) => v.endsWith(':/data'))?.split(':')[0]);
  t.ok(dataVolumes.every((v) => v && c.volumes && v in c.volumes), 'each hub\'s /data is a named volume');
  t.not(dataVolumes[0], dataVolumes[1], 'a spool volume per hub');
  t.ok(c.services.postgres.volumes.some((v: string) => v.endsWith(':/var/lib/postgresql')), 'postgres:18 data mounted at /var/lib/postgresql');

  // Every file bind-mounted from deploy/ is in the repository.
  for (const [name, s] of Object.entries<any>(c.services)) {
    for (const v of s.volumes ?? []) {
      if (!String(v).startsWith('./')) continue;
      t.ok(existsSync(path.resolve(DEPLOY, String(v).split(':')[0]!)), `${name}: ${v} exists`);
    }
  }

  // Prometheus scrapes each hub service on the hub's port; Grafana reads the Prometheus service.
  const prom = await yaml('prometheus/prometheus.yml');
  const hubJob = prom.scrape_configs.find((s: any) => s.job_name === 'lintel-hub');
  const targets = hubJob.static_configs.flatMap((s: any) => s.targets.map((x: string) => ({ target: x, hub: s.labels?.hub })));
  t.same(targets, [{ target: 'hub-1:8080', hub: 'hub-1' }, { target: 'hub-2:8080', hub: 'hub-2' }]);
  t.equal(hubs[0].environment.LINTEL_PORT, '8080');
  t.same(prom.rule_files, ['alerts.yml']);

  // HAProxy: TCP, both hubs, checked on /readyz (and /healthz for the fallback backend).
  const cfg = await read('haproxy/haproxy.cfg');
  t.match(cfg, /^defaults\n(?:.*\n)*?\s+mode tcp$/m, 'mode tcp');
  t.match(cfg, /http-check send meth GET uri \/readyz/);
  t.match(cfg, /http-check send meth GET uri \/healthz/);
  const servers = [...cfg.matchAll(/^\s+server (\S+) (\S+):(\d+) check/gm)].map((m) => `${m[2]}:${m[3]}`);
  t.same([...new Set(servers)].sort(), ['hub-1:8080', 'hub-2:8080']);
  t.same(c.services.lb.ports, ['8080:8080']);
});

// --- the tools, where installed (Debian: apt-get install prometheus haproxy) -------------------

const has = (bin: string) => (process.env.PATH ?? '').split(':').some((d) => existsSync(path.join(d, bin)));

t.test('promtool: config and rules valid, rule unit tests pass, dashboard queries parse', { skip: has('promtool') ? false : 'promtool not installed' }, async (t) => {
  const cwd = path.join(DEPLOY, 'prometheus');
  await t.resolves(run('promtool', ['check', 'config', 'prometheus.yml'], { cwd }), 'check config');
  await t.resolves(run('promtool', ['check', 'rules', 'alerts.yml'], { cwd }), 'check rules');
  const unit = await run('promtool', ['test', 'rules', 'alerts.test.yml', 'alerts-weekly.test.yml'], { cwd }).catch((e) => e);
  t.equal(unit.code ?? 0, 0, `rule unit tests: ${unit.stdout}${unit.stderr ?? ''}`);
  t.equal(unit.stdout.match(/SUCCESS/g)?.length, 2, 'both unit test files pass');

  // Dashboard queries as recording rules: promtool parses them as PromQL.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lintel-dash-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const exprs = await dashboardExprs();
  const rules = { groups: [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `lintel_dashboard:q${i}`, expr: e.expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m') })) }] };
  await writeFile(path.join(dir, 'dashboard.yml'), stringifyYaml(rules));
  await t.resolves(run('promtool', ['check', 'rules', 'dashboard.yml'], { cwd: dir }), `${exprs.length} dashboard queries parse`);
});

t.test('haproxy -c accepts the load balancer config', { skip: has('haproxy') ? false : 'haproxy not installed' }, async (t) => {
  const res = await run('haproxy', ['-c', '-f', path.join(DEPLOY, 'haproxy/haproxy.cfg')]).catch((e) => e);
  t.match(res.stdout, /Configuration file is valid/, res.stderr);
});
