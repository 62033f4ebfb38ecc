/**
 * Our IEC 61850 client against our IED simulator (built from the vector SCL files) for every captured scenario,
 * and our client's requests compared byte for byte with the libiec61850 client requests of the captures.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { Iec61850Client } from '../../../protocols/iec61850/client/iec61850-client.ts';
import type { ReceivedReport } from '../../../protocols/iec61850/client/iec61850-client.ts';
import { MmsClient } from '../../../protocols/iec61850/client/mms-client.ts';
import { hex } from '../../../protocols/iec61850/codec/ber.ts';
import type { MmsData } from '../../../protocols/iec61850/codec/mms-data.ts';
import { loadSclFile } from '../../../protocols/iec61850/model/scl.ts';
import { IedServer } from '../../../protocols/iec61850/simulator/ied-server.ts';
import type { IedServerOptions } from '../../../protocols/iec61850/simulator/ied-server.ts';
import { memoryChannelPair } from '../../../protocols/iec61850/transport/byte-channel.ts';
import type { ByteChannel } from '../../../protocols/iec61850/transport/byte-channel.ts';
import { readVectorText } from '../../../protocols/iec61850/testing/pcap.ts';

const VECTORS = new URL('../../../../shared/vectors/iec61850/', import.meta.url).pathname;
const LD = 'simpleIOGenericIO';
const basicModel = (): IedServerOptions['model'] => loadSclFile(`${VECTORS}scl/simpleIO_direct_control.cid`).model();
const controlModel = (): IedServerOptions['model'] => loadSclFile(`${VECTORS}scl/simpleIO_control_tests.cid`).model();

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await wait(10);
  }
}

/** A client channel that records every TPKT the client writes. */
function tapped(ch: ByteChannel, sink: Uint8Array[]): ByteChannel {
  return { ...ch, write: (b) => { sink.push(b.slice()); ch.write(b); }, close: () => ch.close(), onData: (l) => ch.onData(l), onClose: (l) => ch.onClose(l), remote: ch.remote };
}

describe('IEC 61850 client against the IED simulator', function () {
  this.timeout(20000);
  const servers: IedServer[] = [];
  const clients: Iec61850Client[] = [];
  const start = async (o: Partial<IedServerOptions> = {}): Promise<{ server: IedServer; port: number }> => {
    const server = new IedServer({ model: basicModel(), ...o });
    servers.push(server);
    return { server, port: await server.listen(0, '127.0.0.1') };
  };
  const connect = async (port: number, maxPduSize = 65000): Promise<Iec61850Client> => {
    const c = await Iec61850Client.connect('127.0.0.1', port, { maxPduSize, requestTimeoutMs: 3000 });
    clients.push(c);
    return c;
  };
  afterEach(async () => {
    for (const c of clients.splice(0)) c.mms.abort();
    for (const s of servers.splice(0)) await s.close();
  });

  it('our client requests equal the libiec61850 client requests byte for byte (01, 03, 05, 06, 11, 12)', async () => {
    const scenarios: [string, (c: Iec61850Client) => Promise<void>, number?][] = [
      ['01_association_discovery', async (c) => {
        await c.mms.identify();
        await c.mms.getDomainNames();
        await c.mms.getVariableNames(LD);
        await c.mms.getVariableListNames(LD);
      }],
      ['03_read', async (c) => {
        for (const item of ['GGIO1$MX$AnIn1', 'GGIO1$MX$AnIn1$mag$f', 'GGIO1$MX$AnIn1$q', 'GGIO1$MX$AnIn1$t', 'GGIO1$ST$SPCSO1', 'GGIO1$ST$Mod$stVal', 'LLN0$DC$NamPlt', 'GGIO1$CF$SPCSO1$ctlModel']) {
          await c.read(`${LD}/${item}`);
        }
        await c.readMany(['GGIO1$MX$AnIn1$mag$f', 'GGIO1$MX$AnIn2$mag$f', 'GGIO1$ST$SPCSO1$stVal', 'GGIO1$MX$AnIn9'].map((i) => ({ ref: `${LD}/${i}` })));
        await c.read(`${LD}/GGIO1$MX$AnIn9$mag$f`).catch(() => undefined);
      }],
      ['05_dataset', async (c) => {
        await c.dataSetDirectory(`${LD}/LLN0.Measurements`);
        await c.readDataSet(`${LD}/LLN0.Measurements`);
        await c.createDataSet(`${LD}/LLN0.TestDS`, [{ ref: `${LD}/GGIO1.AnIn1`, fc: 'MX' }, { ref: `${LD}/GGIO1.SPCSO1.stVal`, fc: 'ST' }]);
        await c.dataSetDirectory(`${LD}/LLN0.TestDS`);
        await c.readDataSet(`${LD}/LLN0.TestDS`);
        await c.deleteDataSet(`${LD}/LLN0.TestDS`);
      }],
      ['06_write', async (c) => {
        const w = (ref: string, v: MmsData): Promise<void> => c.write(`${LD}/${ref}`, undefined, v).catch(() => undefined);
        await w('GGIO1$DC$NamPlt$vendor', { type: 'visible-string', value: 'libiec61850.com' });
        await c.read(`${LD}/GGIO1$DC$NamPlt$vendor`);
        await w('GGIO1$DC$NamPlt', { type: 'structure', value: ['Vendor X', '2.0.1', 'structured write'].map((s) => ({ type: 'visible-string' as const, value: s })) });
        await c.read(`${LD}/GGIO1$DC$NamPlt`);
        await w('GGIO1$MX$AnIn1$mag$f', { type: 'float', value: 1.5 });
        await w('GGIO1$CF$SPCSO1$ctlModel', { type: 'integer', value: 2 });
      }],
      ['11_file_services', async (c) => {
        await c.fileDirectory();
        await c.readFile('notes.txt');
        await c.readFile('missing.txt').catch(() => undefined);
      }, 1000],
      ['12_file_read_segmented', async (c) => {
        await c.readFile('big.txt');
      }],
    ];
    for (const [name, run, maxPduSize] of scenarios) {
      const { server } = await start({ fileStore: `${VECTORS}filestore` });
      const [a, b] = memoryChannelPair();
      server.attach(b);
      const sent: Uint8Array[] = [];
      const c = new Iec61850Client(await MmsClient.associate(tapped(a, sent), { maxPduSize: maxPduSize ?? 65000 }));
      await run(c);
      await c.close();
      const expected = readVectorText(`${VECTORS}${name}.pcap.txt`).filter((m) => m.dir === 'C').map((m) => hex(m.bytes));
      assert.deepEqual(sent.map(hex), expected, name);
      await server.close();
      servers.splice(servers.indexOf(server), 1);
    }
  });

  it('the simulator answers the captured requests of 01, 02, 04, 06 and 12 byte for byte like libiec61850 (name order, paging, COTP segmentation)', async () => {
    // FileOpen carries the file's mtime (GeneralizedTime), which is the checkout's, not the capture machine's
    const mask = (h: string): string => h.replace(/8113[0-9a-f]{38}/g, '8113<mtime>');
    for (const [name, maxPduSize] of [['01_association_discovery', 65000], ['02_discovery_small_pdu', 1000], ['04_type_description', 65000], ['06_write', 65000], ['12_file_read_segmented', 65000]] as const) {
      const server = new IedServer({
        model: basicModel(),
        fileStore: `${VECTORS}filestore`,
        identity: { vendor: 'MZ', model: 'basic io', revision: '1.4.2' },
        // basic_io announces no file services; the files server (12) does
        servicesSupported: { bits: 85, bytes: Uint8Array.from(Buffer.from(name.startsWith('12') ? 'ee1c00000002000040ed18' : 'ee1c000000000000000118', 'hex')) },
      });
      servers.push(server);
      const [a, b] = memoryChannelPair();
      const answered: Uint8Array[] = [];
      server.attach(tapped(b, answered));
      const vector = readVectorText(`${VECTORS}${name}.pcap.txt`);
      for (const m of vector) {
        if (m.dir !== 'C') continue;
        a.write(m.bytes);
        const expected = vector.filter((x) => x.dir === 'S').length;
        const before = answered.length;
        await until(() => answered.length > before || answered.length >= expected, 2000).catch(() => undefined);
      }
      await until(() => answered.length >= vector.filter((x) => x.dir === 'S').length, 2000);
      assert.deepEqual(answered.map((x) => mask(hex(x))), vector.filter((x) => x.dir === 'S').map((x) => mask(hex(x.bytes))), `${name} (max PDU ${maxPduSize})`);
      a.close();
    }
  });

  it('our report and control requests have the structure of the libiec61850 client requests (07, 08, 09, 10; only T timestamps differ)', async () => {
    const mask = (h: string): string => h.replace(/9108[0-9a-f]{16}/g, '9108<T>');
    const scenarios: [string, (c: Iec61850Client) => Promise<void>][] = [
      ['07_report_unbuffered', async (c) => {
        const got: ReceivedReport[] = [];
        const sub = await c.enableReporting(`${LD}/LLN0.RP.EventsRCB01`, { reserve: true, trgOps: ['dchg', 'integrity', 'gi'], intgPd: 2000, gi: true, resolveMembers: false }, (r) => got.push(r));
        await until(() => got.length >= 1);
        assert.equal((await c.operate(`${LD}/GGIO1.SPCSO1`, true, { originIdent: 'vectors' })).ok, true);
        await until(() => got.length >= 2);
        await sub.disable();
      }],
      ['08_report_buffered', async (c) => {
        const got: ReceivedReport[] = [];
        const sub = await c.enableReporting(`${LD}/LLN0.BR.Measurements01`, { optFlds: ['seqNum', 'timeStamp', 'reasonCode', 'dataSet', 'dataRef', 'bufOvfl', 'entryId', 'confRev'], trgOps: ['dchg', 'gi'], purgeBuf: true, gi: true, resolveMembers: false }, (r) => got.push(r));
        await until(() => got.length >= 1);
        await sub.disable();
        assert.equal((await c.getRcbValues(`${LD}/LLN0.BR.Measurements01`)).rptEna, false);
      }],
      ['10_control_enhanced', async (c) => {
        const o = { originIdent: 'vectors', terminationTimeoutMs: 2000 };
        assert.equal((await c.operate(`${LD}/GGIO1.SPCSO3`, true, o)).termination, 'positive');
        assert.equal((await c.operate(`${LD}/GGIO1.SPCSO4`, true, o)).termination, 'positive');
        assert.equal(await c.selectWithValue(`${LD}/GGIO1.SPCSO4`, false, o), true);
        assert.equal(await c.cancel(`${LD}/GGIO1.SPCSO4`, false, o), true);
        assert.equal((await c.operate(`${LD}/GGIO1.SPCSO9`, true, o)).termination, 'negative');
      }],
    ];
    for (const [name, run] of scenarios) {
      const { server } = await start({ model: name.startsWith('1') ? controlModel() : basicModel(), failingControls: ['GGIO1.SPCSO9'] });
      const [a, b] = memoryChannelPair();
      server.attach(b);
      const sent: Uint8Array[] = [];
      const c = new Iec61850Client(await MmsClient.associate(tapped(a, sent), {}));
      await run(c);
      await c.close();
      const expected = readVectorText(`${VECTORS}${name}.pcap.txt`).filter((m) => m.dir === 'C').map((m) => mask(hex(m.bytes)));
      assert.deepEqual(sent.map((x) => mask(hex(x))), expected, name);
    }
    // 09, SPCSO1 (direct-with-normal-security): read ctlModel, type of the CO data object, Write Oper
    const { server } = await start({ model: controlModel() });
    const [a, b] = memoryChannelPair();
    server.attach(b);
    const sent: Uint8Array[] = [];
    const c = new Iec61850Client(await MmsClient.associate(tapped(a, sent), {}));
    assert.equal((await c.operate(`${LD}/GGIO1.SPCSO1`, true, { originIdent: 'vectors' })).ok, true);
    const expected = readVectorText(`${VECTORS}09_control_normal.pcap.txt`).filter((m) => m.dir === 'C').slice(2, 5).map((m) => mask(hex(m.bytes)));
    assert.deepEqual(sent.slice(2).map((x) => mask(hex(x))), expected);
    c.mms.abort();
  });

  it('association and discovery, incl. paging at a 1000-octet PDU', async () => {
    const { port } = await start();
    const big = await connect(port);
    assert.deepEqual(await big.mms.getDomainNames(), [LD]);
    const all = await big.mms.getVariableNames(LD);
    assert.equal(all.length, 304);
    assert.ok(all.includes('LLN0$BR$Measurements01$EntryID') && all.includes('LPHD1$ST$Proxy$t'));
    const small = await connect(port, 1000);
    assert.equal(small.mms.negotiated.maxPduSize, 1000);
    const pages: number[] = [];
    const orig = small.mms.request.bind(small.mms);
    small.mms.request = (req, t) => orig(req, t).then((r) => {
      if (r.service === 'getNameList') pages.push(r.identifiers.length);
      return r;
    });
    assert.deepEqual(await small.mms.getVariableNames(LD), all);
    assert.ok(pages.length >= 6, `pages ${pages.join(',')}`);
    const model = await big.discover();
    const ggio = model.logicalDevices[0]?.logicalNodes.find((l) => l.name === 'GGIO1');
    assert.ok(ggio);
    const anIn1 = ggio.dataObjects.find((d) => d.name === 'AnIn1');
    assert.deepEqual(anIn1?.attributes.map((a) => `${a.fc}.${a.name}`), ['MX.mag', 'MX.q', 'MX.t']);
    assert.deepEqual(model.logicalDevices[0]?.logicalNodes.find((l) => l.name === 'LLN0')?.dataSets.map((d) => [d.name, d.members.length]), [['Events', 4], ['Events2', 4], ['Measurements', 8]]);
  });

  it('reads incl. per-item errors and writes incl. refusals', async () => {
    const { port } = await start();
    const c = await connect(port);
    const mv = await c.read(`${LD}/GGIO1.AnIn1`, 'MX');
    assert.ok(mv.type === 'structure' && mv.value.length === 3 && mv.value[1]?.type === 'bit-string' && mv.value[1].value.bits === 13);
    assert.deepEqual(await c.read(`${LD}/GGIO1.Mod.stVal`, 'ST'), { type: 'integer', value: 1 });
    assert.deepEqual(await c.read(`${LD}/LLN0.NamPlt.vendor`, 'DC'), { type: 'visible-string', value: 'MZ Automation' });
    const many = await c.readMany([{ ref: `${LD}/GGIO1.AnIn1.mag.f`, fc: 'MX' }, { ref: `${LD}/GGIO1.AnIn9`, fc: 'MX' }]);
    assert.equal(many[0]?.type, 'float');
    assert.deepEqual(many[1], { type: 'failure', error: 10 });
    await assert.rejects(c.read(`${LD}/GGIO1.AnIn9.mag.f`, 'MX'), (e: unknown) => isEnergyMeshError(e, 'DEVICE_EXCEPTION') && e.details['dataAccessError'] === 10);
    await c.write(`${LD}/GGIO1.NamPlt.vendor`, 'DC', { type: 'visible-string', value: 'EnergyMesh' });
    assert.deepEqual(await c.read(`${LD}/GGIO1.NamPlt.vendor`, 'DC'), { type: 'visible-string', value: 'EnergyMesh' });
    const denied = (e: unknown): boolean => isEnergyMeshError(e, 'DEVICE_EXCEPTION') && e.details['dataAccessError'] === 3;
    await assert.rejects(c.write(`${LD}/GGIO1.AnIn1.mag.f`, 'MX', { type: 'float', value: 1.5 }), denied);
    await assert.rejects(c.write(`${LD}/GGIO1.SPCSO1.ctlModel`, 'CF', { type: 'integer', value: 2 }), denied);
    await assert.rejects(c.write(`${LD}/GGIO1.NamPlt`, 'DC', { type: 'structure', value: [] }), denied);
  });

  it('data sets: read, create, read back, delete', async () => {
    const { port } = await start();
    const c = await connect(port);
    const m = await c.readDataSet(`${LD}/LLN0.Measurements`);
    assert.deepEqual(m.map((x) => x.type), ['float', 'bit-string', 'float', 'bit-string', 'float', 'bit-string', 'float', 'bit-string']);
    await c.createDataSet(`${LD}/LLN0.TestDS`, [{ ref: `${LD}/GGIO1.AnIn1`, fc: 'MX' }, { ref: `${LD}/GGIO1.SPCSO1.stVal`, fc: 'ST' }]);
    assert.deepEqual(await c.dataSetDirectory(`${LD}/LLN0.TestDS`), [`${LD}/GGIO1$MX$AnIn1`, `${LD}/GGIO1$ST$SPCSO1$stVal`]);
    const v = await c.readDataSet(`${LD}/LLN0.TestDS`);
    assert.deepEqual(v.map((x) => x.type), ['structure', 'boolean']);
    assert.equal(await c.deleteDataSet(`${LD}/LLN0.TestDS`), true);
    assert.equal(await c.deleteDataSet(`${LD}/LLN0.Measurements`), false);
    await assert.rejects(c.readDataSet(`${LD}/LLN0.TestDS`), (e: unknown) => isEnergyMeshError(e, 'DEVICE_EXCEPTION'));
  });

  it('unbuffered reports: reserve, enable, GI, data change', async () => {
    const { server, port } = await start();
    const c = await connect(port);
    const reports: ReceivedReport[] = [];
    const sub = await c.enableReporting(`${LD}/LLN0.RP.EventsRCB01`, { reserve: true, trgOps: ['dchg', 'integrity', 'gi'], intgPd: 60_000, gi: true }, (r) => reports.push(r));
    await until(() => reports.length >= 1);
    const gi = reports[0] as ReceivedReport;
    assert.equal(gi.rptId, 'Events1');
    assert.equal(gi.dataSet, `${LD}/LLN0$Events`);
    assert.deepEqual(gi.entries.map((e) => [e.index, e.value.type, e.reasons.join()]), [0, 1, 2, 3].map((i) => [i, 'boolean', 'general-interrogation']));
    assert.equal(gi.memberRefs[0], `${LD}/GGIO1$ST$SPCSO1$stVal`);
    // another client cannot take the reserved RCB
    const other = await connect(port);
    await assert.rejects(other.enableReporting(`${LD}/LLN0.RP.EventsRCB01`, {}, () => undefined), (e: unknown) => isEnergyMeshError(e, 'DEVICE_EXCEPTION'));
    const ok = await c.operate(`${LD}/GGIO1.SPCSO1`, true);
    assert.deepEqual(ok, { ok: true, model: 'direct-with-normal-security' });
    await until(() => reports.length >= 2);
    const dchg = reports[1] as ReceivedReport;
    assert.deepEqual(dchg.entries.map((e) => [e.index, e.value, e.reasons]), [[0, { type: 'boolean', value: true }, ['data-change']]]);
    assert.equal(dchg.seqNum, (gi.seqNum ?? 0) + 1);
    void server;
    await sub.disable();
    assert.equal((await c.getRcbValues(`${LD}/LLN0.RP.EventsRCB01`)).rptEna, false);
  });

  it('buffered reports resume at the last EntryID after a dropped connection: nothing lost or repeated', async () => {
    const { server, port } = await start({ updateIntervalMs: 40 });
    const rcb = `${LD}/LLN0.BR.Measurements01`;
    const got: ReceivedReport[] = [];
    const c1 = await connect(port);
    const sub1 = await c1.enableReporting(rcb, { optFlds: ['seqNum', 'timeStamp', 'reasonCode', 'dataSet', 'dataRef', 'bufOvfl', 'entryId', 'confRev'], trgOps: ['dchg', 'gi'], purgeBuf: true, bufTm: 20 }, (r) => got.push(r));
    await until(() => got.length >= 3);
    assert.ok(got.every((r) => r.entryId?.length === 8 && r.entries.every((e) => e.reference?.startsWith(`${LD}/GGIO1$MX$AnIn`))));
    // drop the TCP connection without release
    c1.mms.abort();
    clients.splice(clients.indexOf(c1), 1);
    await until(() => got.length > 0 && !c1.mms.isOpen);
    const lastId = sub1.lastEntryId as Uint8Array;
    const lastSeq = got.at(-1)?.seqNum as number;
    const before = got.length;
    await wait(250); // the server keeps buffering
    const c2 = await connect(port);
    await c2.enableReporting(rcb, { entryId: lastId }, (r) => got.push(r));
    await until(() => got.length >= before + 5);
    const seqs = got.slice(before - 1).map((r) => r.seqNum as number);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], ((seqs[i - 1] as number) + 1) % 65536, `sequence ${seqs.join(',')}`);
    assert.equal(seqs[0], lastSeq);
    const ids = got.map((r) => hex(r.entryId as Uint8Array));
    assert.equal(new Set(ids).size, ids.length, 'no entry repeated');
    const values = await c2.getRcbValues(rcb);
    assert.equal(values.rptEna, true);
    assert.equal(values.buffered, true);
    void server;
  });

  it('controls: direct/SBO, normal/enhanced security, LastApplError and negative CommandTermination', async () => {
    const { port } = await start({ model: controlModel(), failingControls: ['GGIO1.SPCSO9'] });
    const c = await connect(port);
    const o = { originIdent: 'vectors', terminationTimeoutMs: 2000 };
    assert.deepEqual(await c.operate(`${LD}/GGIO1.SPCSO1`, true, o), { ok: true, model: 'direct-with-normal-security' });
    assert.deepEqual(await c.read(`${LD}/GGIO1.SPCSO1.stVal`, 'ST'), { type: 'boolean', value: true });
    // SBO without select: LastApplError object-not-selected before the refused Write
    const laeSeen: number[] = [];
    c.mms.onInformationReport((r) => {
      if (r.spec.type === 'list' && r.spec.variables[0]?.item === 'LastApplError') laeSeen.push(Date.now());
    });
    const oper = (await c.read(`${LD}/GGIO1.SPCSO2.Oper`, 'CO').catch(() => undefined)) ?? undefined;
    void oper;
    const type = await c.typeOf(`${LD}/GGIO1$CO$SPCSO2$Oper`);
    assert.equal(type.type, 'structure');
    const raw = await c.mms.write([{ scope: 'domain', domain: LD, item: 'GGIO1$CO$SPCSO2$Oper' }], [{
      type: 'structure', value: [{ type: 'boolean', value: true }, { type: 'structure', value: [{ type: 'integer', value: 3 }, { type: 'octet-string', value: new Uint8Array(Buffer.from('vectors')) }] }, { type: 'unsigned', value: 0 }, { type: 'utc-time', value: { seconds: 0, fraction: 0, quality: 0 } }, { type: 'boolean', value: false }, { type: 'bit-string', value: { bits: 2, bytes: Uint8Array.of(0) } }],
    }]);
    assert.deepEqual(raw, [{ type: 'failure', error: 3 }]);
    assert.equal(laeSeen.length, 1, 'LastApplError arrived before the Write response');
    assert.deepEqual(await c.operate(`${LD}/GGIO1.SPCSO2`, true, o), { ok: true, model: 'sbo-with-normal-security' });
    assert.deepEqual(await c.operate(`${LD}/GGIO1.SPCSO3`, true, o), { ok: true, model: 'direct-with-enhanced-security', termination: 'positive' });
    assert.deepEqual(await c.operate(`${LD}/GGIO1.SPCSO4`, true, o), { ok: true, model: 'sbo-with-enhanced-security', termination: 'positive' });
    assert.equal(await c.selectWithValue(`${LD}/GGIO1.SPCSO4`, false, o), true);
    assert.equal(await c.cancel(`${LD}/GGIO1.SPCSO4`, false, o), true);
    const neg = await c.operate(`${LD}/GGIO1.SPCSO9`, true, o);
    assert.equal(neg.ok, false);
    assert.equal(neg.termination, 'negative');
    assert.equal(neg.lastApplError?.cntrlObj, `${LD}/GGIO1$CO$SPCSO9$Oper`);
    assert.equal(neg.lastApplError?.orIdent, 'vectors');
  });

  it('file services: directory, 20 KB file read, small-PDU chunked read, missing file', async () => {
    const { port } = await start({ fileStore: `${VECTORS}filestore` });
    const c = await connect(port);
    const dir = await c.fileDirectory();
    assert.deepEqual(dir.map((e) => [e.name, e.attributes.size]).sort(), [['big.txt', 20000], ['notes.txt', 2418], ['test', 5]]);
    assert.deepEqual(Buffer.from(await c.readFile('big.txt')), readFileSync(`${VECTORS}filestore/big.txt`));
    const small = await connect(port, 1000);
    const reads: number[] = [];
    const orig = small.mms.fileRead.bind(small.mms);
    small.mms.fileRead = async (id) => {
      const r = await orig(id);
      reads.push(r.data.length);
      return r;
    };
    assert.deepEqual(Buffer.from(await small.readFile('notes.txt')), readFileSync(`${VECTORS}filestore/notes.txt`));
    assert.ok(reads.length >= 3);
    await assert.rejects(c.readFile('missing.txt'), (e: unknown) => isEnergyMeshError(e, 'DEVICE_EXCEPTION') && e.details['errorClass'] === 11 && e.details['code'] === 7);
    await assert.rejects(c.readFile('../etc/passwd'), (e: unknown) => isEnergyMeshError(e, 'DEVICE_EXCEPTION'));
  });
});

describe('IED simulator association control and bad input', function () {
  this.timeout(20000);

  it('refuses an association without the configured ACSE password and accepts the right one', async () => {
    const server = new IedServer({ model: basicModel(), password: 's3cret' });
    const port = await server.listen(0, '127.0.0.1');
    try {
      await assert.rejects(MmsClient.connectTcp('127.0.0.1', port, { connectTimeoutMs: 2000 }), (e: unknown) => isEnergyMeshError(e, 'CONNECTION_REFUSED'));
      await assert.rejects(MmsClient.connectTcp('127.0.0.1', port, { connectTimeoutMs: 2000, password: 'wrong' }), (e: unknown) => isEnergyMeshError(e, 'CONNECTION_REFUSED'));
      const ok = await MmsClient.connectTcp('127.0.0.1', port, { connectTimeoutMs: 2000, password: 's3cret' });
      assert.deepEqual(await ok.getDomainNames(), [LD]);
      await ok.close();
    } finally {
      await server.close();
    }
  });

  it('survives mutated and random PDUs from a client and keeps serving others', async () => {
    const server = new IedServer({ model: basicModel(), fileStore: `${VECTORS}filestore` });
    const requests = readVectorText(`${VECTORS}03_read.pcap.txt`).concat(readVectorText(`${VECTORS}07_report_unbuffered.pcap.txt`), readVectorText(`${VECTORS}11_file_services.pcap.txt`)).filter((m) => m.dir === 'C').map((m) => m.bytes);
    let seed = 7;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    try {
      for (let round = 0; round < 40; round++) {
        const [a, b] = memoryChannelPair();
        server.attach(b);
        // a valid association first (CR, CN), then garbage
        for (const m of requests.slice(0, 2)) a.write(m);
        await wait(5);
        for (let k = 0; k < 10; k++) {
          const base = (requests[Math.floor(rnd() * requests.length)] as Uint8Array).slice();
          for (let j = 0; j < 3; j++) base[7 + Math.floor(rnd() * (base.length - 7))] = Math.floor(rnd() * 256);
          a.write(rnd() < 0.2 ? base.subarray(0, Math.floor(rnd() * base.length)) : base);
        }
        await wait(5);
        a.close();
      }
      const [a, b] = memoryChannelPair();
      server.attach(b);
      const c = await MmsClient.associate(a, {});
      assert.equal((await c.readOne({ scope: 'domain', domain: LD, item: 'GGIO1$ST$Mod$stVal' })).type, 'integer');
      await c.close();
    } finally {
      await server.close();
    }
  });
});
