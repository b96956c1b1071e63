// Piscina task module behind the operator API: `{ op, arg }` names an operation of one of the
// resource modules under workers/api/. Errors come back as data (a thread boundary keeps an
// Error's message but not its code).
import { isUnavailable } from './db.js';
import { closeDb, type Reply } from './api/common.js';
import * as devices from './api/devices.js';
import * as events from './api/events.js';
import * as people from './api/people.js';
import * as retention from './api/retention.js';
import * as sitesDoors from './api/sites-doors.js';
import * as timesheets from './api/timesheets.js';

const ops: Record<string, (arg: never) => Promise<unknown>> = {
  ...sitesDoors,
  ...people,
  ...devices,
  ...events,
  ...timesheets,
  ...retention,
  close: closeDb,
};

export default async function api({ op, arg }: { op: string; arg: never }): Promise<Reply> {
  const fn = Object.hasOwn(ops, op) ? ops[op] : undefined;
  if (!fn) return { ok: false, code: 'LINTEL_ERR_API_INTERNAL', message: `no operation ${op}` };
  try {
    return { ok: true, value: await fn(arg) };
  } catch (err) {
    const e = err as { code?: string; message: string; fields?: unknown };
    if (isUnavailable(err)) {
      await closeDb().catch(() => {}); // postgres.js 3.4 does not recover a connection that died inside begin()
      return { ok: false, code: 'LINTEL_ERR_STORE_UNAVAILABLE', message: e.message };
    }
    return { ok: false, code: e.code ?? 'LINTEL_ERR_API_INTERNAL', message: e.message, fields: e.fields };
  }
}
