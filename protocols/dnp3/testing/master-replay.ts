/**
 * Test helper: runs our master against a scripted outstation that answers each master APDU with
 * what opendnp3's outstation answered in a capture, and records the master's link frames, so a test
 * can compare them with the capture's master frames byte for byte.
 */
import type { VectorName } from './vectors.ts';
import { captureSteps } from './replay.ts';
import { LinkParser } from '../codec/link-parser.ts';
import { encodeLinkFrame } from '../codec/link-frame.ts';
import { memoryChannelPair } from '../session/channel.ts';
import type { ByteChannel } from '../session/channel.ts';
import { LinkLayer } from '../session/link-layer.ts';
import { TransportLayer } from '../session/transport-layer.ts';
import type { MasterSessionOptions } from '../master/master-session.ts';
import { MasterSession } from '../master/master-session.ts';

export interface MasterReplayResult {
  /** Link frames the master sent (CRCs included). */
  frames: Uint8Array[];
  /** APDUs the master sent. */
  apdus: Uint8Array[];
}

export async function replayMaster(name: VectorName, options: MasterSessionOptions, script: (m: MasterSession) => Promise<void>, expectApdus?: number): Promise<MasterReplayResult> {
  const { leading, steps } = captureSteps(name);
  const [a, b] = memoryChannelPair();
  const frames: Uint8Array[] = [];
  const parser = new LinkParser();
  const tapped: ByteChannel = {
    onDidReceive: a.onDidReceive,
    onDidClose: a.onDidClose,
    get closed() {
      return a.closed;
    },
    description: a.description,
    write(bytes: Uint8Array) {
      for (const f of parser.push(bytes).frames) frames.push(encodeLinkFrame(f));
      a.write(bytes);
    },
    close: () => a.close(),
  };
  const peer = new TransportLayer(new LinkLayer(b, { localAddress: 1024, remoteAddress: 1, isMaster: false }), 4096);
  const apdus: Uint8Array[] = [];
  let chain = Promise.resolve();
  peer.onDidReceiveApdu((x) => {
    const step = steps[apdus.length];
    apdus.push(x);
    for (const r of step?.expected ?? []) chain = chain.then(() => peer.sendApdu(r));
  });
  let connected = false;
  const master = new MasterSession(
    async () => {
      if (connected) return new Promise<ByteChannel>(() => undefined);
      connected = true;
      for (const r of leading) chain = chain.then(() => peer.sendApdu(r));
      return tapped;
    },
    { keepAliveMs: 0, responseTimeoutMs: 1000, ...options },
  );
  master.start();
  const until = async (pred: () => boolean): Promise<void> => {
    const end = Date.now() + 3000;
    while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  };
  await until(() => master.state === 'online');
  await script(master);
  await until(() => apdus.length >= (expectApdus ?? steps.length) && !master.busy);
  await master.stop();
  b.close();
  return { frames, apdus };
}
