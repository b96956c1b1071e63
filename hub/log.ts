// The root pino logger. Components take child({ component }), sessions child({ device }).
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'lintel' },
    redact: {
      paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization', 'cred', '*.cred', 'databaseUrl', '*.databaseUrl', 'credentialKey', '*.credentialKey'],
      censor: '[redacted]',
    },
  });
}
