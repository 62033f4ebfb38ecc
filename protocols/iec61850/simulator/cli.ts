/**
 * IED simulator CLI: `npx tsx protocols/iec61850/simulator/cli.ts --scl file.cid [--ied NAME] [--port 102]
 * [--host 127.0.0.1] [--files DIR] [--update-ms 1000] [--fail LN.DO,...]`. Stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { loadSclFile } from '../model/scl.ts';
import { IedServer } from './ied-server.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scl: { type: 'string' },
      ied: { type: 'string' },
      port: { type: 'string', default: '102' },
      host: { type: 'string', default: '127.0.0.1' },
      files: { type: 'string' },
      'update-ms': { type: 'string', default: '1000' },
      fail: { type: 'string' },
    },
  });
  if (!values.scl) {
    process.stderr.write('usage: cli.ts --scl file.cid [--ied NAME] [--port P] [--host H] [--files DIR] [--update-ms N] [--fail LN.DO,...]\n');
    process.exit(2);
  }
  const model = loadSclFile(values.scl).model(values.ied);
  const server = new IedServer({
    model,
    updateIntervalMs: Number(values['update-ms']),
    ...(values.files ? { fileStore: values.files } : {}),
    ...(values.fail ? { failingControls: values.fail.split(',') } : {}),
  });
  const port = await server.listen(Number(values.port), values.host);
  process.stdout.write(`IED ${model.name} (${model.logicalDevices.map((l) => l.name).join(', ')}) listening on ${values.host}:${port}\n`);
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
