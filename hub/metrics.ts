// Prometheus metrics: per-frame facts live here, not in logs. No label ever carries a device id.
import client from 'prom-client';

export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'lintel_' });
  const r = [registry];
  return {
    registry,
    connectedTerminals: new client.Gauge({ name: 'lintel_terminals_connected', help: 'Terminal sessions open (after hello)', registers: r }),
    connections: new client.Counter({ name: 'lintel_terminal_connections_total', help: 'Upgrade attempts by outcome', labelNames: ['outcome'], registers: r }),
    closes: new client.Counter({ name: 'lintel_terminal_closes_total', help: 'Sessions closed by close code', labelNames: ['code'], registers: r }),
    framesReceived: new client.Counter({ name: 'lintel_frames_received_total', help: 'Frames received by type', labelNames: ['type'], registers: r }),
    badFrames: new client.Counter({ name: 'lintel_bad_frames_total', help: 'Frames answered with error bad_frame', labelNames: ['code'], registers: r }),
    eventsReceived: new client.Counter({ name: 'lintel_ingest_events_received_total', help: 'Events received in ev frames, counted when answered: = stored + duplicate + quarantined + busy (hub/accounting.ts)', registers: r }),
    eventsStored: new client.Counter({ name: 'lintel_ingest_events_stored_total', help: 'Terminal events committed to the events table', registers: r }),
    hubRecordsStored: new client.Counter({ name: 'lintel_ingest_hub_records_stored_total', help: 'The hub\'s own decision records committed to the events table (not in received)', registers: r }),
    eventsDuplicate: new client.Counter({ name: 'lintel_ingest_events_duplicate_total', help: 'Events already stored (resends)', registers: r }),
    eventsQuarantined: new client.Counter({ name: 'lintel_ingest_events_quarantined_total', help: 'Events stored in quarantine', registers: r }),
    eventsBusy: new client.Counter({ name: 'lintel_ingest_events_busy_total', help: 'Events answered busy (not stored, to be resent)', registers: r }),
    siteEventsReceived: new client.Counter({ name: 'lintel_site_events_received_total', help: 'Events received per site (site id; bounded by the sites a hub serves), for "site silent at its usual shift change" alerts', labelNames: ['site'], registers: r }),
    eventsSpooled: new client.Counter({ name: 'lintel_ingest_events_spooled_total', help: 'Events acked from the local spool (fsynced) while PostgreSQL was unreachable', registers: r }),
    spoolBytes: new client.Gauge({ name: 'lintel_spool_bytes', help: 'Bytes in the local spool waiting for PostgreSQL', registers: r }),
    spoolSegments: new client.Gauge({ name: 'lintel_spool_segments', help: 'Spool segment files waiting for PostgreSQL', registers: r }),
    spoolCapacity: new client.Gauge({ name: 'lintel_spool_capacity_bytes', help: 'Bytes the local spool may hold (LINTEL_SPOOL_MAX_BYTES)', registers: r }),
    spoolDrained: new client.Counter({ name: 'lintel_spool_drained_events_total', help: 'Events moved from the spool into PostgreSQL, by outcome', labelNames: ['outcome'], registers: r }),
    spoolTorn: new client.Counter({ name: 'lintel_spool_torn_records_total', help: 'Torn or corrupt spool records skipped at recovery (never acked)', registers: r }),
    degraded: new client.Gauge({ name: 'lintel_hub_degraded', help: '1 while the hub runs without PostgreSQL (spooling)', registers: r }),
    framesBusy: new client.Counter({ name: 'lintel_ingest_busy_replies_total', help: 'busy frames sent, by reason', labelNames: ['reason'], registers: r }),
    inflightBytes: new client.Gauge({ name: 'lintel_ingest_inflight_bytes', help: 'Bytes of ev frames handed to the pool or waiting in the open batch, not yet answered', registers: r }),
    inflightFrames: new client.Gauge({ name: 'lintel_ingest_inflight_frames', help: 'ev frames handed to the pool or waiting in the open batch, not yet answered (their events are not yet in received)', registers: r }),
    batchEvents: new client.Histogram({ name: 'lintel_ingest_batch_events', help: 'Events and frames per COPY batch', buckets: [1, 10, 50, 100, 500, 1000, 2500, 5000, 10000, 25000], registers: r }),
    batches: new client.Counter({ name: 'lintel_ingest_batches_total', help: 'Batches committed, by path: fast (plain inserts, resolved in memory), staging (resolving statement; resends, unknown credentials) or apart (frame by frame: PostgreSQL refused a value in the batch)', labelNames: ['path'], registers: r }),
    commitSeconds: new client.Histogram({ name: 'lintel_ingest_commit_seconds', help: 'COPY + resolve + commit time of a batch inside the worker', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: r }),
    ackSeconds: new client.Histogram({ name: 'lintel_ingest_ack_seconds', help: 'From an ev frame received to its ack sent', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: r }),
    poolQueue: new client.Gauge({ name: 'lintel_pool_queue_depth', help: 'Tasks waiting in the ingest pool queue', registers: r }),
    decisionSeconds: new client.Histogram({
      name: 'lintel_access_decision_seconds',
      help: 'Time the hub spends deciding an auth request, in memory',
      // Fine between 1 and 100 µs, where decisions fall, so a quantile is not smeared across a wide bucket.
      buckets: [1e-6, 2e-6, 3e-6, 5e-6, 7.5e-6, 1e-5, 1.5e-5, 2e-5, 3e-5, 5e-5, 7.5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1],
      registers: r,
    }),
    decisions: new client.Counter({ name: 'lintel_access_decisions_total', help: 'Access decisions by reason', labelNames: ['reason'], registers: r }),
    hubEventsDropped: new client.Counter({ name: 'lintel_hub_events_overflow_total', help: 'Hub decision records that found the pending buffer full', registers: r }),
    stateVersion: new client.Gauge({ name: 'lintel_access_state_version', help: 'Access state version the hub decides on', registers: r }),
    storeUp: new client.Gauge({ name: 'lintel_store_up', help: '1 while PostgreSQL answers', registers: r }),
    clockSkew: new client.Histogram({ name: 'lintel_terminal_clock_skew_seconds', help: 'Absolute terminal clock skew seen at hello and ping', buckets: [0.1, 0.5, 1, 2, 5, 30, 60, 300, 3600], registers: r }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
