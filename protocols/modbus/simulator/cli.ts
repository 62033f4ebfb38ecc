/**
 * Modbus TCP simulator from the command line:
 *
 *   npx tsx protocols/modbus/simulator/cli.ts --devices 10 --base-port 15020 --kind mixed
 *   npx tsx protocols/modbus/simulator/cli.ts --devices 250 --base-port 16000 --kind generic --registers 100
 *
 * Device i listens on base-port + floor(i / units-per-port) with unit id 1 + (i mod units-per-port).
 * `mixed` cycles pv, battery, meter. When every port listens it prints one JSON line
 * {"event":"ready","devices":[{id,kind,port,unitId}...]} on stdout; it stops on SIGINT/SIGTERM or when
 * stdin closes (so a parent that dies takes it along).
 */
import { parseArgs } from 'node:util';
import { ModbusSimulator, type SimulatedDeviceSpec } from './modbus-simulator.ts';
import type { SimulatedKind } from './simulated-devices.ts';

const HELP = `usage: cli.ts [--devices N] [--base-port P] [--kind pv|battery|meter|mixed|generic]
              [--registers R] [--units-per-port K] [--tick-ms T] [--day-length S] [--host H] [--stats]`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      devices: { type: 'string', default: '3' },
      'base-port': { type: 'string', default: '15020' },
      kind: { type: 'string', default: 'mixed' },
      registers: { type: 'string', default: '100' },
      'units-per-port': { type: 'string', default: '1' },
      'tick-ms': { type: 'string', default: '1000' },
      'day-length': { type: 'string', default: '86400' },
      host: { type: 'string', default: '127.0.0.1' },
      stats: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const n = Number(values.devices);
  const basePort = Number(values['base-port']);
  const perPort = Number(values['units-per-port']);
  const registers = Number(values.registers);
  const kind = values.kind;
  const kinds: SimulatedKind[] = kind === 'mixed' ? ['pv', 'battery', 'meter'] : [kind as SimulatedKind];
  if (!['pv', 'battery', 'meter', 'generic', 'mixed'].includes(kind)) {
    process.stderr.write(`unknown kind ${kind}\n${HELP}\n`);
    return 2;
  }
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(basePort) || basePort < 0 || basePort > 65535 || !(perPort >= 1 && perPort <= 247)) {
    process.stderr.write(`${HELP}\n`);
    return 2;
  }
  const devices: SimulatedDeviceSpec[] = [];
  for (let i = 0; i < n; i++) {
    devices.push({
      id: `sim-${i}`,
      kind: kinds[i % kinds.length]!,
      port: basePort === 0 ? 0 : basePort + Math.floor(i / perPort),
      unitId: 1 + (i % perPort),
      registers,
      dayLengthS: Number(values['day-length']),
    });
  }
  const sim = new ModbusSimulator({ devices, host: values.host, tickMs: Number(values['tick-ms']) });
  await sim.start();
  process.stdout.write(
    JSON.stringify({
      event: 'ready',
      devices: sim.ids().map((id) => {
        const e = sim.endpoint(id);
        return { id, kind: sim.device(id).kind, host: e.host, port: e.port, unitId: e.unitId };
      }),
    }) + '\n',
  );
  let statsTimer: NodeJS.Timeout | undefined;
  if (values.stats) {
    let last = 0;
    statsTimer = setInterval(() => {
      const now = sim.requests();
      process.stderr.write(`requests/s ${now - last}\n`);
      last = now;
    }, 1000);
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    process.stdin.on('end', resolve);
    process.stdin.on('error', resolve);
    process.stdin.resume();
  });
  clearInterval(statsTimer);
  await sim.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    process.exit();
  },
  (e: unknown) => {
    process.stderr.write(`simulator failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
