/**
 * Session robustness: unsolicited duplicate detection, link keep-alive and confirmed user data,
 * and one silent outstation not stalling the others on the same master.
 */
import { strict as assert } from 'node:assert';
import net from 'node:net';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { encodeApdu } from '../../../protocols/dnp3/codec/apdu.ts';
import { FunctionCode } from '../../../protocols/dnp3/codec/app-header.ts';
import { encodeLinkFrame } from '../../../protocols/dnp3/codec/link-frame.ts';
import { memoryChannelPair, listenTcp } from '../../../protocols/dnp3/session/channel.ts';
import { LinkLayer } from '../../../protocols/dnp3/session/link-layer.ts';
import { TransportLayer } from '../../../protocols/dnp3/session/transport-layer.ts';
import { MasterSession } from '../../../protocols/dnp3/master/master-session.ts';
import { Dnp3Master } from '../../../protocols/dnp3/master/master.ts';
import { Outstation } from '../../../protocols/dnp3/outstation/outstation.ts';
import { vectorDatabase } from '../../../protocols/dnp3/testing/vector-database.ts';
import { waitFor } from './harness.ts';

describe('DNP3 session robustness', function () {
  this.timeout(15_000);

  it('confirms a repeated unsolicited response again but processes it once', async () => {
    const [a, b] = memoryChannelPair();
    const master = new MasterSession(async () => a, { startupIntegrityPoll: false, keepAliveMs: 0, responseTimeoutMs: 500 });
    const link = new LinkLayer(b, { localAddress: 1024, remoteAddress: 1, isMaster: false });
    const transport = new TransportLayer(link);
    const confirms: string[] = [];
    transport.onDidReceiveApdu((x) => confirms.push(Buffer.from(x).toString('hex')));
    let batches = 0;
    master.onDidReceiveMeasurements(() => batches++);
    master.start();
    await waitFor(() => master.state === 'online');
    const unsol = encodeApdu({
      control: { fir: true, fin: true, con: true, uns: true, seq: 3 },
      func: FunctionCode.UNSOLICITED_RESPONSE,
      iin: { iin1: 0, iin2: 0 },
      blocks: [{ header: { group: 2, variation: 2, qualifier: 0x28, range: { type: 'count', count: 1 } }, objects: [{ index: 0, value: { kind: 'point', value: true, flags: 0x81, time: 1 } }] }],
    });
    await transport.sendApdu(unsol);
    await transport.sendApdu(unsol);
    await waitFor(() => confirms.length === 2, 2000, 'two confirms');
    assert.deepEqual(confirms, ['d300', 'd300']);
    assert.equal(batches, 1);
    assert.equal(master.stats.duplicateUnsolicited, 1);
    await master.stop();
    link.dispose();
  });

  it('link keep-alive: LINK_STATUS keeps the channel; a silent peer closes it', async () => {
    const [a, b] = memoryChannelPair();
    const primary = new LinkLayer(a, { localAddress: 1, remoteAddress: 1024, isMaster: true, keepAliveMs: 20, responseTimeoutMs: 500 });
    const secondary = new LinkLayer(b, { localAddress: 1024, remoteAddress: 1, isMaster: false });
    await waitFor(() => primary.stats.keepAlivesSent >= 3, 2000, 'keep-alives');
    assert.equal(a.closed, false);
    secondary.dispose(); // stops answering
    const errors: unknown[] = [];
    primary.onDidError((e) => errors.push(e));
    await waitFor(() => a.closed, 2000, 'channel closed');
    assert.ok(errors.some((e) => isEnergyMeshError(e, 'TIMEOUT')));
    b.close();
  });

  it('addresses: broadcast user data is delivered without a reply; other destinations and sources are dropped', async () => {
    const [a, b] = memoryChannelPair();
    const secondary = new LinkLayer(b, { localAddress: 1024, remoteAddress: 1, isMaster: false });
    const got: string[] = [];
    secondary.onDidReceiveSegment((s) => got.push(Buffer.from(s).toString('hex')));
    const replies: Uint8Array[] = [];
    a.onDidReceive((x) => replies.push(x));
    const frame = (dest: number, src: number, func: number, data: number[]): Uint8Array => encodeLinkFrame({ dir: true, prm: true, fcb: false, fcvDfc: false, func, dest, src, data: Uint8Array.from(data) });
    a.write(frame(0xffff, 1, 4, [0xc0, 0xc0, 0x01, 0x3c, 0x01, 0x06]));
    a.write(frame(0xfffd, 1, 9, []));
    a.write(frame(1025, 1, 4, [0xc1, 0xc1, 0x01, 0x3c, 0x01, 0x06]));
    a.write(frame(1024, 7, 4, [0xc2, 0xc2, 0x01, 0x3c, 0x01, 0x06]));
    a.write(frame(1024, 1, 9, []));
    await waitFor(() => replies.length === 1, 1000, 'one LINK_STATUS');
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(got, ['c0c0013c0106']);
    assert.equal(replies.length, 1, 'no reply to broadcasts');
    assert.equal(replies[0]?.[3], 0x0b);
    assert.equal(secondary.stats.droppedFrames, 2);
    secondary.dispose();
    a.close();
  });

  it('confirmed user data: RESET_LINK_STATES, FCB toggling, duplicate discarded', async () => {
    const [a, b] = memoryChannelPair();
    const primary = new LinkLayer(a, { localAddress: 1, remoteAddress: 1024, isMaster: true, confirmedUserData: true, responseTimeoutMs: 200 });
    const secondary = new LinkLayer(b, { localAddress: 1024, remoteAddress: 1, isMaster: false });
    const got: string[] = [];
    secondary.onDidReceiveSegment((s) => got.push(Buffer.from(s).toString('hex')));
    const ctrl: number[] = [];
    primary.onDidTransferFrame((f) => {
      if (f.dir === 'tx') ctrl.push((f.frame.fcb ? 0x20 : 0) | (f.frame.fcvDfc ? 0x10 : 0) | f.frame.func);
    });
    await primary.sendSegment(Uint8Array.of(0xc0, 0xc0, 0x01, 0x3c, 0x01, 0x06));
    await primary.sendSegment(Uint8Array.of(0xc1, 0xc1, 0x01, 0x3c, 0x02, 0x06));
    assert.deepEqual(ctrl, [0x00, 0x33, 0x13]);
    assert.deepEqual(got, ['c0c0013c0106', 'c1c1013c0206']);
    // repeat the second frame with the same FCB (0): acknowledged, data discarded
    a.write(encodeLinkFrame({ dir: true, prm: true, fcb: false, fcvDfc: true, func: 3, dest: 1024, src: 1, data: Uint8Array.of(0xc2, 0xc1, 0x01, 0x3c, 0x02, 0x06) }));
    await waitFor(() => secondary.stats.droppedFrames === 1, 1000, 'duplicate dropped');
    assert.equal(got.length, 2);
    primary.dispose();
    secondary.dispose();
    a.close();
  });

  it('one silent outstation does not stall polls of the others', async () => {
    // a TCP server that accepts and never answers
    const silentSockets = new Set<net.Socket>();
    const silent = net.createServer((s) => silentSockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const silentPort = (silent.address() as net.AddressInfo).port;
    const outstations = [new Outstation(vectorDatabase()), new Outstation(vectorDatabase())];
    const listeners = await Promise.all(outstations.map((o) => listenTcp('127.0.0.1', 0, (c) => o.attach(c))));
    const master = new Dnp3Master();
    const common = { startupIntegrityPoll: false, keepAliveMs: 0, responseTimeoutMs: 3000, reconnectDelayMs: 50, classPolls: [{ classes: [1, 2, 3] as (1 | 2 | 3)[], periodMs: 30 }] };
    const dead = master.addTcpOutstation({ id: 'silent', host: '127.0.0.1', port: silentPort, ...common, responseTimeoutMs: 300 });
    const polled = new Map<string, number>();
    const live = listeners.map((l, i) => master.addTcpOutstation({ id: `os${i}`, host: '127.0.0.1', port: l.port, ...common }));
    for (const s of live) s.onDidReceiveIin(() => polled.set(s.id, (polled.get(s.id) ?? 0) + 1));
    const deadErrors: unknown[] = [];
    dead.onDidError((e) => deadErrors.push(e));
    await waitFor(() => deadErrors.filter((e) => isEnergyMeshError(e, 'TIMEOUT')).length >= 2, 5000, 'silent outstation timing out');
    const before = live.map((s) => polled.get(s.id) ?? 0);
    await waitFor(() => live.every((s, i) => (polled.get(s.id) ?? 0) >= (before[i] ?? 0) + 5), 5000, 'live outstations keep being polled');
    assert.equal(dead.state, 'online');
    await master.stop();
    for (const o of outstations) o.dispose();
    await Promise.all(listeners.map((l) => l.close()));
    for (const s of silentSockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });
});

describe('DNP3 master timeouts and retries', function () {
  this.timeout(15_000);

  it('a silent outstation: a poll is sent 1 + taskRetries times, then rejects with a retriable TIMEOUT', async () => {
    const [a, b] = memoryChannelPair();
    const link = new LinkLayer(b, { localAddress: 1024, remoteAddress: 1, isMaster: false });
    const transport = new TransportLayer(link);
    const seen: number[] = [];
    transport.onDidReceiveApdu((x) => seen.push(x[1] ?? -1));
    const master = new MasterSession(async () => a, { startupIntegrityPoll: false, keepAliveMs: 0, responseTimeoutMs: 80, taskRetries: 2 });
    master.start();
    await waitFor(() => master.state === 'online');
    await assert.rejects(master.poll([1]), (e) => isEnergyMeshError(e, 'TIMEOUT') && e.retriable);
    assert.deepEqual(seen, [FunctionCode.READ, FunctionCode.READ, FunctionCode.READ]);
    // commands are not retried
    await assert.rejects(master.directOperate([{ index: 0, crob: { code: 3, count: 1, onTimeMs: 0, offTimeMs: 0 } }]), (e) => isEnergyMeshError(e, 'TIMEOUT'));
    assert.equal(seen.filter((f) => f === FunctionCode.DIRECT_OPERATE).length, 1);
    await master.stop();
    link.dispose();
  });

  it('event buffer overflow (IIN2.3) makes the master run an integrity poll', async () => {
    const os = new Outstation({ counter: [{ index: 0, value: 0, class: 3 }], eventBufferSize: 2 });
    const [a, b] = memoryChannelPair();
    os.attach(b);
    const master = new MasterSession(async () => a, { startupIntegrityPoll: false, keepAliveMs: 0, responseTimeoutMs: 500 });
    const sources: string[] = [];
    master.onDidReceiveMeasurements((m) => sources.push(m.source));
    master.start();
    await waitFor(() => master.state === 'online');
    for (let v = 1; v <= 4; v++) os.update('counter', 0, v);
    await master.poll([3]);
    await waitFor(() => sources.includes('integrity') && !master.busy, 2000, 'integrity after overflow');
    assert.equal(os.database.overflow, false);
    await master.stop();
    os.dispose();
  });
});
