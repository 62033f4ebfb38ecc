/**
 * Child process of kill-restart.test.ts: consumes group `g` from the beginning and prints
 * `batch <first seq> <last seq>` when its handler starts on a batch. The test kills it with SIGKILL.
 * Usage: node --import tsx consumer.child.ts <dir> <fsync>
 */
import { EmbeddedBus } from '../../../core/bus/embedded-bus.ts';
import type { FsyncPolicy } from '../../../core/bus/durable-log.ts';

const [dir, fsync] = process.argv.slice(2);
if (dir === undefined || fsync === undefined) throw new Error('usage: consumer.child.ts <dir> <fsync>');

const bus = new EmbeddedBus({ prefix: 'em', durable: { dir, fsync: fsync as FsyncPolicy } });
await bus.start();
await bus.subscribe<{ seq: number }>('em.telemetry', { group: 'g', fromBeginning: true, maxBatch: 50 }, async (batch) => {
  process.stdout.write(`batch ${batch[0]?.value.seq} ${batch[batch.length - 1]?.value.seq}\n`);
  await new Promise((r) => setTimeout(r, 1));
});
process.stdout.write('ready\n');
