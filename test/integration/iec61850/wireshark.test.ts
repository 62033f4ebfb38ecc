/**
 * Wireshark as the independent judge: the traffic of our client and our IED simulator (every service we
 * implement, incl. reports, controls and a segmented file read) is written to a pcap and dissected by
 * `tshark -V -d tcp.port==102,tpkt`; no packet may be Malformed and there may be no expert error or warning
 * from the OSI/MMS dissectors. Skipped (with a message) when tshark is not installed; CI installs it.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Iec61850Client } from '../../../protocols/iec61850/client/iec61850-client.ts';
import type { ReceivedReport } from '../../../protocols/iec61850/client/iec61850-client.ts';
import { MmsClient } from '../../../protocols/iec61850/client/mms-client.ts';
import { loadSclFile } from '../../../protocols/iec61850/model/scl.ts';
import { IedServer } from '../../../protocols/iec61850/simulator/ied-server.ts';
import { tpktLength } from '../../../protocols/iec61850/codec/cotp.ts';
import { memoryChannelPair } from '../../../protocols/iec61850/transport/byte-channel.ts';
import type { ByteChannel } from '../../../protocols/iec61850/transport/byte-channel.ts';
import { writeTcpPcap } from '../../../protocols/iec61850/testing/pcap.ts';
import type { TpktMessage } from '../../../protocols/iec61850/testing/pcap.ts';

const VECTORS = new URL('../../../../shared/vectors/iec61850/', import.meta.url).pathname;
const LD = 'simpleIOGenericIO';

function haveTshark(): boolean {
  return spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Splits what a side writes into TPKTs (a write may hold one TPKT; we never rely on it). */
function recorder(dir: 'C' | 'S', out: TpktMessage[]): (b: Uint8Array) => void {
  let pending = new Uint8Array(0);
  return (b) => {
    const merged = new Uint8Array(pending.length + b.length);
    merged.set(pending);
    merged.set(b, pending.length);
    let rest = merged;
    for (;;) {
      const len = tpktLength(rest);
      if (len === undefined || rest.length < len) break;
      out.push({ dir, tpkt: rest.slice(0, len) });
      rest = rest.subarray(len);
    }
    pending = rest.slice();
  };
}

function tap(ch: ByteChannel, rec: (b: Uint8Array) => void): ByteChannel {
  return { remote: ch.remote, write: (b) => { rec(b); ch.write(b); }, close: () => ch.close(), onData: (l) => ch.onData(l), onClose: (l) => ch.onClose(l) };
}

describe('Wireshark judges our MMS traffic', function () {
  this.timeout(60000);
  before(function () {
    if (!haveTshark()) {
      console.log('    (tshark not installed: skipping the Wireshark check; install the Debian package tshark)');
      this.skip();
    }
  });

  it('tshark finds no malformed packet and no expert error in a full client ↔ simulator session', async () => {
    const messages: TpktMessage[] = [];
    const recC = recorder('C', messages);
    const recS = recorder('S', messages);
    const model = loadSclFile(`${VECTORS}scl/simpleIO_control_tests.cid`).model();
    const basic = loadSclFile(`${VECTORS}scl/simpleIO_direct_control.cid`).model();
    // one LD with both the report control blocks of basic_io and the controls of the control server
    const ln0 = basic.logicalDevices[0]?.logicalNodes[0];
    const cln0 = model.logicalDevices[0]?.logicalNodes[0];
    if (ln0 && cln0) {
      cln0.dataSets.push(...ln0.dataSets);
      cln0.reportControls.push(...ln0.reportControls);
    }
    const server = new IedServer({ model, fileStore: `${VECTORS}filestore`, failingControls: ['GGIO1.SPCSO9'], updateIntervalMs: 30 });
    const [a, b] = memoryChannelPair();
    server.attach(tap(b, recS));
    const c = new Iec61850Client(await MmsClient.associate(tap(a, recC), {}));
    try {
      await c.mms.identify();
      await c.discover();
      await c.read(`${LD}/GGIO1.AnIn1`, 'MX');
      await c.readMany([{ ref: `${LD}/GGIO1.AnIn1.mag.f`, fc: 'MX' }, { ref: `${LD}/GGIO1.AnIn9`, fc: 'MX' }]);
      await c.write(`${LD}/GGIO1.AnIn1.mag.f`, 'MX', { type: 'float', value: 1.5 }).catch(() => undefined);
      await c.createDataSet(`${LD}/LLN0.TestDS`, [{ ref: `${LD}/GGIO1.AnIn1`, fc: 'MX' }, { ref: `${LD}/GGIO1.SPCSO1.stVal`, fc: 'ST' }]);
      await c.readDataSet(`${LD}/LLN0.TestDS`);
      await c.deleteDataSet(`${LD}/LLN0.TestDS`);
      const reports: ReceivedReport[] = [];
      const urcb = await c.enableReporting(`${LD}/LLN0.RP.EventsRCB01`, { reserve: true, trgOps: ['dchg', 'gi'], gi: true }, (r) => reports.push(r));
      const brcb = await c.enableReporting(`${LD}/LLN0.BR.Measurements01`, { optFlds: ['seqNum', 'timeStamp', 'reasonCode', 'dataSet', 'dataRef', 'bufOvfl', 'entryId', 'confRev'], trgOps: ['dchg', 'gi'], bufTm: 20, gi: true }, (r) => reports.push(r));
      const o = { originIdent: 'energymesh', terminationTimeoutMs: 2000 };
      await c.operate(`${LD}/GGIO1.SPCSO1`, true, o);
      await c.operate(`${LD}/GGIO1.SPCSO2`, true, o);
      await c.operate(`${LD}/GGIO1.SPCSO3`, true, o);
      await c.operate(`${LD}/GGIO1.SPCSO4`, true, o);
      await c.operate(`${LD}/GGIO1.SPCSO9`, true, o);
      await new Promise((r) => setTimeout(r, 200));
      await urcb.disable();
      await brcb.disable();
      assert.ok(reports.length >= 3);
      await c.fileDirectory();
      await c.readFile('big.txt');
      await c.readFile('missing.txt').catch(() => undefined);
      await c.close();
    } finally {
      c.mms.abort();
      await server.close();
    }
    assert.ok(messages.some((m) => m.tpkt.length > 8000), 'a segmented TSDU was captured');
    const dir = mkdtempSync(join(tmpdir(), 'em-61850-'));
    try {
      const file = join(dir, 'session.pcap');
      writeFileSync(file, writeTcpPcap(messages, 102));
      const out = execFileSync('tshark', ['-r', file, '-V', '-d', 'tcp.port==102,tpkt'], { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
      const mmsPackets = (out.match(/^MMS$/gm) ?? []).length;
      assert.ok(mmsPackets >= 40, `tshark dissected ${mmsPackets} MMS PDUs`);
      const malformed = out.split('\n').filter((l) => /Malformed/i.test(l));
      assert.deepEqual(malformed, []);
      const expert = out.split('\n').filter((l) => /Expert Info \((Error|Warning)/.test(l) && !/TCP|tcp/.test(l));
      assert.deepEqual(expert, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
