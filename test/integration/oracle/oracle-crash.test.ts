/**
 * The metering oracle killed with SIGKILL right after its telemetry was accepted (mid-consumption,
 * -aggregation or -submission): a restarted instance resumes from the durable bus and the oracle's saved
 * state, and the chain ends with every reading exactly once and exactly right — nothing consumed is lost,
 * nothing is counted or submitted twice.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JsonRpcProvider, keccak256, toUtf8Bytes } from 'ethers';
import { MeterRegistryClient } from '../../../chain/contracts/client.ts';
import { tempDir } from '../chain/helpers.ts';

const here = dirname(fileURLToPath(import.meta.url));
// as in oracle-crash.child.ts
const L = 300_000;
const STEP_S = 15;
const METERS = ['house-a', 'house-b'];

interface Child {
  process: ChildProcess;
  lines: string[];
  exited: Promise<void>;
}

function startChild(args: string[]): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'oracle-crash.child.ts'), ...args], { cwd: resolve(here, '../../..'), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.once('exit', (code, signal) => {
    if (signal !== 'SIGKILL') lines.push(`exited ${code} ${signal}: ${stderr.slice(-2000)}`);
  });
  return { process: child, lines, exited };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, child: Child, timeoutMs = 150_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    const exit = child.lines.find((l) => l.startsWith('exited'));
    if (exit) assert.fail(`child ${exit}`);
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function kill(child: Child): Promise<void> {
  if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
  await child.exited;
}

describe('metering oracle under kill -9', function () {
  this.timeout(360_000); // two cold starts of the whole stack in child processes: slow on a loaded machine
  const dir = tempDir('em-oracle-crash-');
  const children: Child[] = [];
  after(async () => {
    for (const c of children) await kill(c);
    dir.remove();
  });

  it('loses nothing consumed and submits every reading exactly once', async () => {
    const X = Math.floor(Date.now() / L) - 6;
    const first = startChild([dir.path, 'ingest', String(X)]);
    children.push(first);
    await until('telemetry accepted', () => first.lines.includes('ingested'), first);
    await kill(first); // SIGKILL as soon as the bus accepted everything

    const second = startChild([dir.path]);
    children.push(second);
    await until('restarted', () => second.lines.some((l) => l.startsWith('ready ')), second);
    const rpc = second.lines.find((l) => l.startsWith('ready '))?.slice(6) ?? '';
    const provider = new JsonRpcProvider(rpc, undefined, { staticNetwork: true });
    try {
      const deployment = JSON.parse(readFileSync(join(dir.path, 'plugins', 'settlement.contracts', 'deployment.json'), 'utf8')) as { addresses: { registry: string } };
      const registry = new MeterRegistryClient(deployment.addresses.registry, provider);
      const ids = METERS.map((m) => keccak256(toUtf8Bytes(`crash/${m}`)));
      await until('every meter attested through X+3', async () => {
        for (const id of ids) if ((await registry.lastInterval(id).catch(() => undefined)) !== BigInt(X + 3)) return false;
        return true;
      }, second);
      const perInterval = (L / 1000) / STEP_S; // 20 steps
      for (const [idx, id] of ids.entries()) {
        const m = idx + 1;
        for (let k = 0; k < 4; k++) {
          assert.deepEqual(await registry.readingOf(id, BigInt(X + k)), {
            meterId: id,
            interval: BigInt(X + k),
            exportWh: BigInt(m % 2 === 0 ? 2 * perInterval : 0),
            importWh: BigInt(m * perInterval),
            flags: 0,
          }, `${METERS[idx]} interval X+${k}`);
        }
        const filter = registry.contract.filters.ReadingAccepted;
        const accepted = await registry.contract.queryFilter(filter!(id), 0, 'latest');
        assert.equal(accepted.length, 4, `${METERS[idx]}: each interval accepted once`);
      }
    } finally {
      provider.destroy();
    }
  });
});
