/**
 * Compliance cost: pipeline throughput (normalize → compliance stage → in-memory bus) with no
 * module active vs the compliance modules active (eu-gdpr pseudonymising at ingest, us-nerc-cip,
 * and one market module — ERCOT, Elexon and AEMO cannot be active together), and the ratio.
 * Also the stage alone, in ns per record. Records: 1000 devices × 100 points, one device in ten a
 * customer meter whose interval point and identifier tags the modules work on.
 * Rates are per CPU-second of this process (the machine may be shared; wall-clock rates shown too).
 * Run: npx tsx bench/compliance.bench.ts  (or npm run bench -- compliance); BENCH_SECONDS (default 3) per set, split into 3 interleaved runs; the best of each set counts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AuditLog } from '../core/audit/audit-log.ts';
import { EmbeddedBus } from '../core/bus/embedded-bus.ts';
import { ComplianceManager } from '../core/compliance/compliance-manager.ts';
import type { ComplianceModule } from '../core/compliance/compliance-module.ts';
import { silentLogger } from '../core/logging/logger.ts';
import type { Sample, TelemetryRecord } from '../core/model/telemetry.ts';
import { Pipeline } from '../core/pipeline/pipeline.ts';
import { SequenceStore } from '../core/pipeline/sequence-store.ts';
import { createAemoModule } from '../compliance/au-aemo/aemo-module.ts';
import { createGdprModule } from '../compliance/eu-gdpr/gdpr-module.ts';
import { createElexonModule } from '../compliance/gb-elexon/elexon-module.ts';
import { createErcotModule } from '../compliance/us-ercot/ercot-module.ts';
import { createNercCipModule } from '../compliance/us-nerc-cip/nerc-cip-module.ts';

const DEVICES = 1000;
const POINTS = 100;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const REPS = 3;
const HALF_HOUR = 30 * 60_000;

function modules(): ComplianceModule[] {
  return [
    createGdprModule({ keys: [{ id: 'k1', secret: 'bench-secret-key-0123456789abcdef' }], activeKey: 'k1', applyAt: 'ingest', personalDevices: ['meter-*'] }),
    createNercCipModule({ criticalControls: [{ devices: ['breaker-*'], approverRoles: ['operator'], windowSeconds: 300 }] }),
    createErcotModule(),
    createElexonModule(),
    createAemoModule(),
  ];
}

function batches(): Sample[][] {
  const out: Sample[][] = [];
  for (let d = 0; d < DEVICES; d++) {
    const meter = d % 10 === 0;
    const deviceId = meter ? `meter-${d}` : `inverter-${d}`;
    const batch: Sample[] = [];
    for (let p = 0; p < POINTS; p++) {
      batch.push({
        deviceId,
        pointId: meter && p === 0 ? 'energy-interval-kwh' : `reg-${p}`,
        ts: 0,
        value: p,
        quality: { status: 'good', flags: [] },
        protocol: 'modbus',
        unit: 'W',
        ...(meter ? { tags: { customerId: `CUST-${d}`, nmi: `NMI${String(d).padStart(7, '0')}`, feeder: 'F1' } } : {}),
      });
    }
    out.push(batch);
  }
  return out;
}

let runs = 0;

async function pipelineRun(label: string, active: string[], dir: string, seconds: number, quiet = false): Promise<number> {
  const bus = new EmbeddedBus({ prefix: 'bench', memory: { maxRecords: 200_000 } });
  await bus.start();
  const runDir = join(dir, `run-${++runs}`);
  const audit = new AuditLog({ dir: join(runDir, 'audit') });
  const manager = new ComplianceManager({ dataDir: join(runDir, 'compliance'), modules: modules(), audit });
  for (const id of active) manager.enable(id, { by: 'bench', reason: 'benchmark' });
  const stage = manager.stage();
  const pipeline = new Pipeline({ bus, sequences: new SequenceStore(), logger: silentLogger(), siteId: 'bench', stages: () => [stage] });
  const all = batches();
  let round = 0;
  let produced = 0;
  let d = 0;
  const inflight = new Set<Promise<void>>();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    const batch = all[d++ % DEVICES] as Sample[];
    if (d % DEVICES === 0) round++;
    const ts = Date.UTC(2026, 0, 1) + round * HALF_HOUR; // on every market's interval grid
    for (const s of batch) s.ts = ts;
    const p = pipeline.ingest(batch).finally(() => inflight.delete(p));
    inflight.add(p);
    produced += batch.length;
    if (inflight.size >= 64) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  await bus.stop();
  manager.flush();
  const rate = produced / cpuSeconds;
  if (!quiet)
    console.log(
    `${label.padEnd(36)} ${Math.round(rate).toLocaleString('en-US').padStart(11)} records per CPU-second, ${Math.round(produced / elapsed).toLocaleString('en-US').padStart(9)} records/s wall ` +
      `(${produced.toLocaleString('en-US')} records; published ${pipeline.counters.accepted.toLocaleString('en-US')}, dropped ${pipeline.counters.dropped})`,
  );
  return rate;
}

/** CPU ns per record of the stage alone; `rounds` alternating runs, the best of each (the machine may be shared). */
function stageAlone(sets: string[][], dir: string, rounds = 5): number[] {
  const managers = sets.map((active, i) => {
    const m = new ComplianceManager({ dataDir: join(dir, `alone-${i}`), modules: modules(), audit: new AuditLog({ dir: join(dir, `alone-audit-${i}`) }) });
    for (const id of active) m.enable(id, { by: 'bench', reason: 'benchmark' });
    return m;
  });
  let seq = 0;
  // shaped as the pipeline's normalize builds them (property order, site tag), not by spreading
  const records: TelemetryRecord[][] = batches().map((b) =>
    b.map((s) => {
      const r: TelemetryRecord = { deviceId: s.deviceId, pointId: s.pointId, ts: 0, receivedAt: 0, value: s.value, quality: s.quality, protocol: s.protocol, seq: ++seq };
      if (s.unit !== undefined) r.unit = s.unit;
      r.tags = s.tags ?? { site: 'bench' };
      return r;
    }),
  );
  const best = sets.map(() => Infinity);
  let ts = 0;
  for (let k = 0; k < rounds; k++) {
    managers.forEach((m, i) => {
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      let n = 0;
      while (performance.now() - t0 < (SECONDS * 1000) / (rounds * sets.length)) {
        ts += HALF_HOUR;
        for (const b of records) {
          for (const r of b) r.ts = ts;
          m.apply(b.slice(), 'ingest');
          n += b.length;
        }
      }
      const cpu = process.cpuUsage(cpu0);
      best[i] = Math.min(best[i] as number, ((cpu.user + cpu.system) * 1e3) / n);
    });
  }
  return best;
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'em-bench-compliance-'));
  try {
    console.log(`compliance: pipeline (normalize → compliance stage → in-memory bus), ${DEVICES} devices × ${POINTS} points (1 in 10 a customer meter), batches of ${POINTS}, ${SECONDS} s per set in ${REPS} interleaved runs`);
    const [bare, full] = stageAlone([[], ['eu-gdpr', 'us-nerc-cip', 'gb-elexon']], dir);
    console.log(`stage alone (incl. batch copy): none ${(bare as number).toFixed(0)} ns/record, eu-gdpr + us-nerc-cip + gb-elexon ${(full as number).toFixed(0)} ns/record: +${((full as number) - (bare as number)).toFixed(0)} ns/record`);
    const sets: [string, string[]][] = [
      ['no module active', []],
      ['eu-gdpr + us-nerc-cip + us-ercot', ['eu-gdpr', 'us-nerc-cip', 'us-ercot']],
      ['eu-gdpr + us-nerc-cip + gb-elexon', ['eu-gdpr', 'us-nerc-cip', 'gb-elexon']],
      ['eu-gdpr + us-nerc-cip + au-aemo', ['eu-gdpr', 'us-nerc-cip', 'au-aemo']],
    ];
    await pipelineRun('(warm-up, not counted)', ['eu-gdpr', 'us-nerc-cip', 'au-aemo'], dir, 1, true);
    // REPS interleaved rounds, the best rate of each set: a shared machine only ever slows a run down
    const best = sets.map(() => 0);
    for (let rep = 0; rep < REPS; rep++) {
      for (let i = 0; i < sets.length; i++) {
        const [label, ids] = sets[i] as [string, string[]];
        best[i] = Math.max(best[i] as number, await pipelineRun(`${label} #${rep + 1}`, ids, dir, SECONDS / REPS));
      }
    }
    const none = best[0] as number;
    for (let i = 1; i < sets.length; i++) console.log(`ratio ${(sets[i] as [string, string[]])[0].padEnd(36)} ${((best[i] as number) / none).toFixed(2)} (best of ${REPS}; target ≥ 0.80)`);
    const perRecord = 1e9 / none;
    console.log(`expected from the stage cost: ${perRecord.toFixed(0)} ns/record without modules + ${((full as number) - (bare as number)).toFixed(0)} ns/record → ratio ${(perRecord / (perRecord + (full as number) - (bare as number))).toFixed(2)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run();
