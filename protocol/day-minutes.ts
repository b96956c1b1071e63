// Access-group windows are stored as minutes since site-local midnight and shown as HH:MM, the
// same way by the API, the CLI and the admin tasks.

/** Minutes since midnight as HH:MM; 1440 is 24:00, the exclusive end of a day. */
export const hhmm = (min: number): string => `${String(Math.floor(min / 60)).padStart(2, '0')}:${String(min % 60).padStart(2, '0')}`;

/** HH:MM (already checked against its pattern) to minutes since midnight. */
export const minutesOf = (s: string): number => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
