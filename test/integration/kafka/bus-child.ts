/**
 * A child process for the Kafka bus tests (so a test can kill -9 it). Reads one JSON argument:
 *   { mode: 'publish', prefix, dataDir, brokers, addressMap, devices, startSeq, perBatch, intervalMs, total }
 *     publishes batches forever (or `total` records); after each publish() resolves prints `ok <deviceId> <seq>` per record
 *   { mode: 'consume', prefix, dataDir, brokers, group }
 *     consumes the telemetry topic in `group` and prints `seen <deviceId> <seq> <partition>` per record
 * Prints `ready` once started.
 */
import type { TelemetryRecord } from '../../../core/model/telemetry.ts';
import { makeBus, record, testConfig } from './helpers.ts';

interface Args {
  mode: 'publish' | 'consume';
  prefix: string;
  dataDir: string;
  brokers: string[];
  addressMap?: Record<string, string>;
  devices?: number;
  startSeq?: number;
  perBatch?: number;
  intervalMs?: number;
  total?: number;
  group?: string;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const bus = makeBus(args.prefix, args.dataDir, testConfig(args.brokers, { addressMap: args.addressMap ?? {} }));
await bus.start();
const topic = `${args.prefix}.telemetry`;
const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

process.on('SIGTERM', () => {
  void bus.stop().then(() => process.exit(0));
});

if (args.mode === 'consume') {
  await bus.subscribe<TelemetryRecord>(topic, { group: args.group ?? 'g', fromBeginning: true }, (batch) => {
    out(batch.map((m) => `seen ${m.value.deviceId} ${m.value.seq} ${m.partition}`).join('\n'));
  });
  out('ready');
} else {
  out('ready');
  let seq = args.startSeq ?? 0;
  const devices = args.devices ?? 5;
  const perBatch = args.perBatch ?? 20;
  let sent = 0;
  while (args.total === undefined || sent < args.total) {
    const batch = [];
    for (let i = 0; i < perBatch; i++, seq++) {
      const dev = `dev-${seq % devices}`;
      batch.push({ key: dev, value: record(dev, seq, seq) });
    }
    await bus.publish(topic, batch);
    sent += batch.length;
    out(batch.map((r) => `ok ${r.key} ${r.value.seq}`).join('\n'));
    await new Promise((r) => setTimeout(r, args.intervalMs ?? 10));
  }
  out('done');
}
