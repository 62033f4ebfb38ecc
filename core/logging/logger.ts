import { pino } from 'pino';
import type { Logger as PinoLogger, LoggerOptions } from 'pino';

/** Structured logger (pino). Child loggers carry `plugin`, `device`, ... bindings. */
export type Logger = PinoLogger;

/** Paths whose values are never written to logs (secrets). Extended by the config loader. */
export const REDACTED_PATHS: readonly string[] = [
  'password',
  'token',
  'secret',
  'privateKey',
  '*.password',
  '*.token',
  '*.secret',
  '*.privateKey',
  'config.*.password',
  'config.*.token',
];

export interface LoggerSettings {
  level?: string;
  /** Pretty one-line output for a terminal instead of JSON lines. */
  pretty?: boolean;
  destination?: NodeJS.WritableStream;
}

/** Creates the root logger: JSON lines on stdout (or `destination`), secrets redacted. */
export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? process.env.ENERGYMESH_LOG_LEVEL ?? 'info',
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
    base: { app: 'energymesh' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (settings.destination) return pino(options, settings.destination);
  return pino(options);
}

/** A logger that writes nothing (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
