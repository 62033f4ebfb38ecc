/** The kernel selects the Kafka bus from the config (bus.kind: kafka) and runs its core consumers on it. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { inlineConfig } from '../../../core/config/config-file.ts';
import { loadConfig } from '../../../core/config/config-loader.ts';
import { Kernel } from '../../../core/kernel.ts';
import { PACKAGE_ROOT } from '../../../core/paths.ts';
import { startKafka } from '../../support/kafka-mock.ts';
import type { KafkaCluster } from '../../support/kafka-mock.ts';
import { uniquePrefix, until } from './helpers.ts';

describe('kernel on the kafka bus (librdkafka mock cluster via kcat)', function () {
  this.timeout(90_000);
  let cluster: KafkaCluster;
  let dir: string;

  before(async () => {
    cluster = await startKafka();
  });
  after(async () => {
    await cluster?.stop();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'em-kafka-kernel-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a kernel with bus.kind kafka loads the plugin from config and streams telemetry through Kafka', async () => {
    const prefix = uniquePrefix('kern');
    const source = inlineConfig(
      {
        dataDir: dir,
        api: { enabled: false },
        bus: { kind: 'kafka', prefix },
        plugins: [{ id: 'bus.kafka', config: { brokers: cluster.brokers, consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 } } }],
      },
      join(PACKAGE_ROOT, 'test'),
    );
    const kernel = new Kernel(loadConfig(source), { defaultMetrics: false, stepTimeoutMs: 10_000 });
    try {
      await kernel.load();
      await kernel.start();
      assert.equal(kernel.bus.kind, 'kafka');
      await until('a value reaches the latest-value store through Kafka', () => {
        void kernel.pipeline.ingest([{ deviceId: 'm-1', pointId: 'kw', ts: Date.now(), value: 4.5, quality: { status: 'good', flags: [] }, protocol: 'test' }]);
        return kernel.latest.get('m-1', 'kw') !== undefined;
      }, 60_000);
      assert.equal(kernel.latest.get('m-1', 'kw')?.value, 4.5);
    } finally {
      await kernel.stop();
    }
  });
});
