/**
 * Runs the DER simulator standalone:
 *   npx tsx protocols/opcua/simulator/cli.ts --port 4840 [--variables N] [--rate-ms R] [--pki DIR]
 *     [--feeders N] [--user NAME:PASSWORD] [--no-anonymous] [--max-items-per-call N]
 *     [--max-items-per-subscription N] [--static-source-time EPOCH_MS] [--verbose]
 * Prints `READY <endpointUrl>` on stdout once it listens; stops on SIGTERM / SIGINT or when stdin closes
 * with `--exit-on-stdin-close` (so a parent that dies takes its simulators with it).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { routeNodeOpcuaLogs } from '../client/opcua-logging.ts';
import { DerSimulator } from './der-simulator.ts';
import type { DerSimulatorOptions } from './der-simulator.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4840' },
    host: { type: 'string', default: '127.0.0.1' },
    variables: { type: 'string', default: '0' },
    'rate-ms': { type: 'string', default: '1000' },
    feeders: { type: 'string', default: '3' },
    pki: { type: 'string' },
    user: { type: 'string', multiple: true },
    'no-anonymous': { type: 'boolean', default: false },
    'max-items-per-call': { type: 'string' },
    'max-items-per-subscription': { type: 'string' },
    'static-source-time': { type: 'string' },
    'exit-on-stdin-close': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`--${name} must be a non-negative integer, got ${v}\n`);
    process.exit(2);
  }
  return n;
}

if (!values.verbose) routeNodeOpcuaLogs(null);

const port = int('port', values.port) ?? 4840;
const options: DerSimulatorOptions = {
  port,
  host: values.host,
  variables: int('variables', values.variables) ?? 0,
  rateMs: Math.max(1, int('rate-ms', values['rate-ms']) ?? 1000),
  feeders: int('feeders', values.feeders) ?? 3,
  pkiDir: values.pki ?? join(tmpdir(), `energymesh-opcua-sim-${port}`),
  anonymous: !values['no-anonymous'],
  users: (values.user ?? []).map((u) => {
    const i = u.indexOf(':');
    return { username: u.slice(0, i), password: u.slice(i + 1) };
  }),
};
const perCall = int('max-items-per-call', values['max-items-per-call']);
if (perCall !== undefined) options.maxMonitoredItemsPerCall = perCall;
const perSub = int('max-items-per-subscription', values['max-items-per-subscription']);
if (perSub !== undefined) options.maxMonitoredItemsPerSubscription = perSub;
const staticTime = int('static-source-time', values['static-source-time']);
if (staticTime !== undefined) options.staticSourceTime = staticTime;

const sim = new DerSimulator(options);
let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await sim.stop().catch(() => undefined);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
if (values['exit-on-stdin-close']) {
  process.stdin.on('end', () => void shutdown());
  process.stdin.on('close', () => void shutdown());
  process.stdin.resume();
}

try {
  await sim.start();
  process.stdout.write(`READY ${sim.endpointUrl} changing=${sim.changingVariables}\n`);
} catch (e) {
  process.stderr.write(`simulator failed to start: ${(e as Error).message}\n`);
  process.exit(1);
}
