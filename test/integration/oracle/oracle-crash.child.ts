/**
 * Child process of oracle-crash.test.ts: an EnergyMesh instance (durable bus, embedded chain, settlement,
 * metering oracle) in `<dir>`. Prints `ready <rpcUrl>`; with `ingest <X>` it then ingests two meters'
 * counter samples for intervals X..X+3 (and a record moving the watermark past X+3's cut-off) in small
 * batches and prints `ingested`. It runs until killed (the test sends SIGKILL).
 * Usage: node --import tsx oracle-crash.child.ts <dir> [ingest <X>]
 */
import { inlineConfig } from '../../../core/config/config-file.ts';
import { startInstance } from '../../../core/instance.ts';
import type { Sample } from '../../../core/model/telemetry.ts';

const L = 300_000;
const CUTOFF_S = 30;
const METERS = ['house-a', 'house-b'];
/** Samples every 15 s; meter m (1-based) imports m Wh and, when even, exports 2 Wh per step. */
const STEP_S = 15;

const [dir, mode, xArg] = process.argv.slice(2);
if (dir !== undefined) {
  const instance = await startInstance(
    inlineConfig(
      {
        dataDir: dir,
        site: { id: 'crash' },
        api: { enabled: false },
        bus: { kind: 'embedded', durable: true, fsync: 'never' },
        plugins: [
          { id: 'chain.empos', config: { blockTimeMs: 100, rpc: { port: 0 } } },
          { id: 'settlement.contracts', config: { intervalMinutes: 5, reserveEb: 1000, accountEb: 1, accountMc: 0 } },
          {
            id: 'metering.oracle',
            config: {
              intervalMinutes: 5,
              cutoffSeconds: CUTOFF_S,
              idleSeconds: 86_400,
              tickMs: 50,
              registerMeters: true,
              batch: { maxReadings: 3 },
              meters: METERS.map((deviceId) => ({ deviceId, import: { pointId: 'imp', unit: 'Wh' }, export: { pointId: 'exp', unit: 'Wh' } })),
            },
          },
        ],
      },
      dir,
    ),
    { defaultMetrics: false, stepTimeoutMs: 60_000 },
  );
  process.stdout.write(`ready ${instance.kernel.chainConnectors[0]?.rpcUrl() ?? ''}\n`);
  if (mode === 'ingest') {
    const X = Number(xArg);
    const samples: Sample[] = [];
    const steps = (4 * L) / (STEP_S * 1000);
    for (let k = 0; k <= steps; k++) {
      const ts = X * L + k * STEP_S * 1000;
      METERS.forEach((deviceId, idx) => {
        const m = idx + 1;
        const q = { status: 'good' as const, flags: [] };
        samples.push({ deviceId, pointId: 'imp', ts, receivedAt: ts + 1000, value: 1000 + m * k, quality: q, protocol: 'test' });
        samples.push({ deviceId, pointId: 'exp', ts, receivedAt: ts + 1000, value: m % 2 === 0 ? 2 * k : 0, quality: q, protocol: 'test' });
      });
    }
    const end = (X + 4) * L + (CUTOFF_S + 1) * 1000;
    samples.push({ deviceId: 'clock', pointId: 'tick', ts: end, receivedAt: end, value: 0, quality: { status: 'good', flags: [] }, protocol: 'test' });
    for (let i = 0; i < samples.length; i += 16) await instance.kernel.pipeline.ingest(samples.slice(i, i + 16));
    process.stdout.write('ingested\n');
  }
  setInterval(() => undefined, 60_000);
}
