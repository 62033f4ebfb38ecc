/**
 * The simulator CLI as a child process (`npx tsx protocols/iec61850/simulator/cli.ts --scl ... --port 0`), and the
 * driver configured without SCL (points discovered from the report data set at run time).
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Iec61850Client } from '../../../protocols/iec61850/client/iec61850-client.ts';
import { Iec61850Driver } from '../../../protocols/iec61850/driver/iec61850-driver.ts';
import type { Iec61850Sample } from '../../../protocols/iec61850/driver/iec61850-driver.ts';
import { loadSclFile } from '../../../protocols/iec61850/model/scl.ts';
import { IedServer } from '../../../protocols/iec61850/simulator/ied-server.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const VECTORS = new URL('../../../../shared/vectors/iec61850/', import.meta.url).pathname;
const LD = 'simpleIOGenericIO';

async function until(cond: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('IEC 61850 simulator CLI and discovery-driven driver', function () {
  this.timeout(30_000);

  it('the CLI serves an SCL file on the given port and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'protocols/iec61850/simulator/cli.ts'), '--scl', `${VECTORS}scl/simpleIO_direct_control.cid`, '--port', '0', '--update-ms', '100'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      await until(() => /listening on 127\.0\.0\.1:\d+/.test(out), 20_000);
      const port = Number(/:(\d+)\s*$/m.exec(out)?.[1]);
      const c = await Iec61850Client.connect('127.0.0.1', port);
      assert.deepEqual(await c.mms.getDomainNames(), [LD]);
      const v1 = await c.read(`${LD}/GGIO1.AnIn1.mag.f`, 'MX');
      await new Promise((r) => setTimeout(r, 250));
      const v2 = await c.read(`${LD}/GGIO1.AnIn1.mag.f`, 'MX');
      assert.ok(v1.type === 'float' && v2.type === 'float' && v1.value !== v2.value, 'measurements change');
      await c.close();
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  });

  it('without SCL the driver takes the points of a report from the data set the server returns', async () => {
    const server = new IedServer({ model: loadSclFile(`${VECTORS}scl/simpleIO_direct_control.cid`).model() });
    const port = await server.listen(0, '127.0.0.1');
    const samples: Iec61850Sample[] = [];
    const driver = new Iec61850Driver([{ id: 'ied', host: '127.0.0.1', port, reports: [{ rcb: `${LD}/LLN0.RP.EventsRCB01`, trgOps: ['dchg', 'gi'], gi: true, reserve: true }], reconnectDelayMs: 200 }], {
      onSamples: (s) => samples.push(...s),
      onDeviceStatus: () => undefined,
    });
    assert.deepEqual(driver.devices()[0]?.points, []);
    driver.start();
    try {
      await until(() => samples.length >= 4);
      assert.deepEqual(driver.devices()[0]?.points.map((p) => p.pointId), [1, 2, 3, 4].map((i) => `${LD}/GGIO1.SPCSO${i}.stVal`));
      assert.deepEqual(samples.slice(0, 4).map((s) => [s.value, s.quality.status]), [[false, 'good'], [false, 'good'], [false, 'good'], [false, 'good']]);
    } finally {
      await driver.stop();
      await server.close();
    }
  });
});
