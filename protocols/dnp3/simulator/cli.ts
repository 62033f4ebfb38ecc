/**
 * DNP3 outstation simulator.
 *
 *   npx tsx protocols/dnp3/simulator/cli.ts --config protocols/dnp3/simulator/substation-rtu.yaml [--port N] [--host H]
 *
 * Prints `dnp3 outstation listening on HOST:PORT` once ready; stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { errorMessage } from '../../../core/errors.ts';
import { loadSimulatorConfig } from './simulator-config.ts';
import { Dnp3Simulator } from './simulator.ts';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { config: { type: 'string', short: 'c' }, port: { type: 'string', short: 'p' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || !values.config) {
    process.stdout.write('usage: cli.ts --config FILE.(yaml|json) [--port N] [--host H]\n');
    return values.help ? 0 : 2;
  }
  const config = loadSimulatorConfig(values.config);
  if (values.port !== undefined) config.listen.port = Number(values.port);
  if (values.host !== undefined) config.listen.host = values.host;
  const sim = new Dnp3Simulator(config);
  sim.outstation.onDidError((e) => process.stderr.write(`dnp3 outstation: ${e.code} ${e.message}\n`));
  const port = await sim.start();
  process.stdout.write(`dnp3 outstation listening on ${config.listen.host}:${port}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sim.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`dnp3 simulator: ${errorMessage(e)}\n`);
    process.exit(1);
  },
);
