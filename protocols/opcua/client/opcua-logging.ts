/**
 * node-opcua logs warnings and errors to the console from deep inside the stack (certificate
 * checks, reconnection attempts). This routes them to a sink of ours — the plugin's logger, or
 * nothing in tests and the bench. The setting is process-wide, as node-opcua's is.
 */
import { setErrorLogger, setWarningLogger } from 'node-opcua';

export interface NodeOpcuaLogSink {
  warn(message: string): void;
  error(message: string): void;
}

const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

function one(a: unknown): string {
  if (typeof a === 'string') return a;
  if (a instanceof Error) return a.message;
  try {
    return JSON.stringify(a) ?? String(a);
  } catch {
    return String(a);
  }
}

function text(args: unknown[]): string {
  return args.map(one).join(' ').replace(ANSI_COLOUR, '').trim();
}

/** Sends node-opcua's warnings and errors to `sink` (or drops them when `sink` is null). */
export function routeNodeOpcuaLogs(sink: NodeOpcuaLogSink | null): void {
  setWarningLogger((...args: unknown[]) => sink?.warn(text(args)));
  setErrorLogger((...args: unknown[]) => sink?.error(text(args)));
}
