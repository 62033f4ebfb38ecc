/** The outstation simulator CLI as a child process, polled by our master over loopback TCP. */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { Iin1 } from '../../../protocols/dnp3/codec/app-header.ts';
import { connectTcp } from '../../../protocols/dnp3/session/channel.ts';
import { MasterSession } from '../../../protocols/dnp3/master/master-session.ts';
import { parseSimulatorConfig } from '../../../protocols/dnp3/simulator/simulator-config.ts';
import { waitFor } from './harness.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('DNP3 outstation simulator', function () {
  this.timeout(30_000);

  it('rejects an invalid config with the JSON path', () => {
    assert.throws(() => parseSimulatorConfig({ points: { analogInput: [{ index: 0, class: 7 }] } }), (e) => isEnergyMeshError(e, 'CONFIG_INVALID') && e.details['path'] === '$.points.analogInput[0].class');
    assert.throws(() => parseSimulatorConfig({ points: { gizmo: [] } }), (e) => isEnergyMeshError(e, 'CONFIG_INVALID'));
    const c = parseSimulatorConfig({ points: { counter: [{ range: { start: 10, count: 5 }, value: 3 }] } });
    assert.deepEqual(c.database.counter?.map((p) => p.index), [10, 11, 12, 13, 14]);
  });

  it('cli.ts serves the example substation RTU; the master polls it and operates a breaker', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'protocols/dnp3/simulator/cli.ts', '--config', 'protocols/dnp3/simulator/substation-rtu.yaml', '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let master: MasterSession | undefined;
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on [\d.]+:(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', () => reject(new Error(`simulator exited: ${out}`)));
      });
      master = new MasterSession((signal) => connectTcp('127.0.0.1', port, 1000, signal), { keepAliveMs: 0, responseTimeoutMs: 2000, timeSyncMode: 'lan' });
      let points = 0;
      master.onDidReceiveMeasurements((b) => {
        if (b.source === 'integrity') points = b.measurements.length;
      });
      master.start();
      const m = master;
      await waitFor(() => points === 13 && (m.iin.iin1 & (Iin1.DEVICE_RESTART | Iin1.NEED_TIME)) === 0 && !m.busy, 10_000, 'integrity poll and time sync');
      const r = await m.selectAndOperate([{ index: 1, crob: { code: 0x03, count: 1, onTimeMs: 0, offTimeMs: 0 } }]);
      assert.ok(r.success);
      const read = await m.scanRange(10, 0, 1, 1);
      const v = read.blocks[0]?.objects[0]?.value;
      assert.ok(v?.kind === 'point' && v.value === true);
    } finally {
      await master?.stop();
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  });
});
