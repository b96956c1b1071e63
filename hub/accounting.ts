// Loss accounting (issue P4): per device, what became of every event received in an ev frame,
// in memory on the event loop, for this hub process since it started (nothing survives a restart).
//
// Everything is counted when the frame is answered, in one step, so at every instant
//   received = stored + duplicates + quarantined + spooled + busy
// holds exactly. `spooled` events were acked from the local spool while PostgreSQL was away;
// what became of them when the spool drained is counted per hub in lintel_spool_drained_events_total
// (a segment may be drained by a later process, after a restart). Frames handed to the pool and not yet answered are reported beside, as
// in_flight_frames: their events are counted nowhere until the answer is known (the event loop
// never decodes a frame to learn its event count). A frame rejected whole (error bad_frame) is
// not an event delivery and is not counted; neither are the events of a frame whose worker died
// (the session is closed and the terminal resends them). The hub's own decision records are not
// terminal events: they are counted in total only (lintel_ingest_hub_records_stored_total).

export interface Tally { received: number; stored: number; duplicates: number; quarantined: number; spooled: number; busy: number; inFlightFrames: number }
type Counts = { stored: number; duplicates: number; quarantined: number; spooled: number; busy: number };

const zero = (): Tally => ({ received: 0, stored: 0, duplicates: 0, quarantined: 0, spooled: 0, busy: 0, inFlightFrames: 0 });

export function createAccounting(isKnown: (deviceId: string) => boolean) {
  const since = Date.now();
  const byDevice = new Map<string, Tally>();

  /** The device's tally; an unknown device (deleted meanwhile) gets a throwaway one, so the map stays bounded. */
  function entry(deviceId: string): Tally {
    let e = byDevice.get(deviceId);
    if (!e) {
      e = zero();
      if (isKnown(deviceId)) byDevice.set(deviceId, e);
    }
    return e;
  }

  return {
    since,
    frameSubmitted(deviceId: string) { entry(deviceId).inFlightFrames++; },
    /** A frame left the pool: `counts` is undefined when nothing of it is countable (bad frame, worker died). */
    frameAnswered(deviceId: string, counts?: Counts) {
      const e = entry(deviceId);
      e.inFlightFrames = Math.max(0, e.inFlightFrames - 1);
      if (counts) add(e, counts);
    },
    /** Events answered busy without entering the pool (past the in-flight bound). */
    busyNow(deviceId: string, n: number) { add(entry(deviceId), { stored: 0, duplicates: 0, quarantined: 0, spooled: 0, busy: n }); },
    get(deviceId: string): Tally { return { ...(byDevice.get(deviceId) ?? zero()) }; },
    /** Drops devices the access state no longer knows (called after each state reload). */
    retain() { for (const id of byDevice.keys()) if (!isKnown(id)) byDevice.delete(id); },
    get size() { return byDevice.size; },
  };
}

function add(e: Tally, c: Counts) {
  e.stored += c.stored;
  e.spooled += c.spooled;
  e.duplicates += c.duplicates;
  e.quarantined += c.quarantined;
  e.busy += c.busy;
  e.received += c.stored + c.duplicates + c.quarantined + c.spooled + c.busy;
}

export const balanced = (t: Tally) => t.received === t.stored + t.duplicates + t.quarantined + t.spooled + t.busy;

export type Accounting = ReturnType<typeof createAccounting>;
