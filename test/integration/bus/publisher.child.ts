/**
 * Child process of kill-restart.test.ts: publishes numbered records in batches for ever and prints
 * `ack <last seq>` after each publish resolves. The test kills it with SIGKILL mid-stream.
 * Usage: node --import tsx publisher.child.ts <dir> <fsync> <batch> [sync|async]
 */
import { EmbeddedBus } from '../../../core/bus/embedded-bus.ts';
import type { FsyncPolicy } from '../../../core/bus/durable-log.ts';

const [dir, fsync, batchArg, writes] = process.argv.slice(2);
if (dir === undefined || fsync === undefined) throw new Error('usage: publisher.child.ts <dir> <fsync> [batch]');
const batch = Number(batchArg ?? 100);

const bus = new EmbeddedBus({
  prefix: 'em',
  durable: { dir, fsync: fsync as FsyncPolicy, segmentBytes: 256 * 1024, writes: writes === 'async' ? 'async' : 'sync' },
});
await bus.start();
process.stdout.write('ready\n');
for (let seq = 0; ; seq += batch) {
  const records = Array.from({ length: batch }, (_, i) => ({
    key: `dev-${(seq + i) % 7}`,
    value: { deviceId: `dev-${(seq + i) % 7}`, pointId: 'p', seq: seq + i, value: Math.sin(seq + i), quality: 'good' },
  }));
  await bus.publish('em.telemetry', records);
  process.stdout.write(`ack ${seq + batch - 1}\n`);
}
