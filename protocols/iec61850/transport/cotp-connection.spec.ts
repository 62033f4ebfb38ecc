import { strict as assert } from 'node:assert';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { encodeCotp, encodeTpkt } from '../codec/cotp.ts';
import { memoryChannelPair } from './byte-channel.ts';
import type { ByteChannel } from './byte-channel.ts';
import { CotpConnection } from './cotp-connection.ts';

/** A channel whose writes arrive at the peer one byte at a time. */
function dribbling(ch: ByteChannel): ByteChannel {
  return { ...ch, write: (b) => { for (const x of b) ch.write(Uint8Array.of(x)); }, close: () => ch.close(), onData: (l) => ch.onData(l), onClose: (l) => ch.onClose(l), remote: ch.remote };
}

describe('COTP connection', () => {
  it('negotiates the TPDU size and reassembles TSDUs from byte-by-byte TCP delivery', async () => {
    const [a, b] = memoryChannelPair();
    const [client, server] = await Promise.all([CotpConnection.connect(dribbling(a), { tpduSize: 256 }), CotpConnection.accept(dribbling(b), { tpduSize: 1024 })]);
    assert.equal(client.tpduSize, 256);
    assert.equal(server.tpduSize, 256);
    const got: Uint8Array[] = [];
    server.onTsdu((t) => got.push(t.slice()));
    const big = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
    client.send(big);
    client.send(Uint8Array.of(1, 2, 3));
    for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(got.map((g) => g.length), [1000, 3]);
    assert.deepEqual(got[0], big);
    client.close();
  });

  it('closes with FRAME_TOO_LONG when a peer sends a TSDU over the limit, and with the error of a bad TPKT', async () => {
    const [a, b] = memoryChannelPair();
    const [client, server] = await Promise.all([CotpConnection.connect(a), CotpConnection.accept(b, { maxTsdu: 100 })]);
    const closed = new Promise<unknown>((resolve) => server.onClose(resolve));
    client.send(new Uint8Array(500));
    assert.ok(isEnergyMeshError(await closed, 'FRAME_TOO_LONG'));
    const [c, d] = memoryChannelPair();
    const [, srv] = await Promise.all([CotpConnection.connect(c), CotpConnection.accept(d)]);
    const closed2 = new Promise<unknown>((resolve) => srv.onClose(resolve));
    c.write(Uint8Array.of(4, 0, 0, 7, 2, 0xf0, 0x80));
    assert.ok(isEnergyMeshError(await closed2, 'FRAME_MALFORMED'));
  });

  it('refuses a DR answer to CR and times out a silent peer', async () => {
    const [a, b] = memoryChannelPair();
    b.onData(() => b.write(encodeTpkt(encodeCotp({ type: 'DR', dstRef: 1, srcRef: 0, reason: 0 }))));
    await assert.rejects(CotpConnection.connect(a), (e: unknown) => isEnergyMeshError(e, 'CONNECTION_REFUSED'));
    const [c] = memoryChannelPair();
    await assert.rejects(CotpConnection.connect(c, { timeoutMs: 50 }), (e: unknown) => isEnergyMeshError(e, 'TIMEOUT'));
  });
});
