import { strict as assert } from 'node:assert';
import { RLP } from '@ethereumjs/rlp';
import { isEnergyMeshError } from '../../core/errors.ts';
import { ValidatorKey, recoverSigner, verifyCertificate, voteDigest } from '../consensus/certificate.ts';
import {
  certificateCommitment,
  decodeCertificate,
  decodeCommit,
  blockHashOfRlp,
  decodeProposal,
  decodeTransactions,
  decodeVote,
  encodeTransactions,
  MAX_TX_BATCH,
  encodeCertificate,
  encodeCommit,
  encodeProposal,
  encodeVote,
  MAX_VOTE_BYTES,
  NIL_HASH,
  prevoteDigest,
  voteMessageDigest,
  type VoteMessage,
} from './gossip-codec.ts';
import { decodeSyncRequest, decodeSyncedBlock, encodeSyncRequest, encodeSyncedBlock, frame, readFrames } from './sync-codec.ts';
import { errorCode } from '../../test/support/error-code.ts';

const keys = [1, 2, 3].map((i) => new ValidatorKey(`0x${i.toString(16).padStart(64, '0')}`));
const HASH = `0x${'ab'.repeat(32)}`;

function vote(kind: VoteMessage['kind'], key: ValidatorKey, blockHash = HASH): VoteMessage {
  const v = { chainId: 17741n, kind, height: 7n, round: 2, blockHash };
  return { ...v, validator: key.address, signature: key.sign(voteMessageDigest(v)) };
}

const code = errorCode;

describe('gossip codec', () => {
  it('round-trips votes (block and nil); precommits sign the certificate digest, prevotes a separate domain', () => {
    for (const kind of ['prevote', 'precommit'] as const) {
      for (const h of [HASH, NIL_HASH]) {
        const v = vote(kind, keys[0]!, h);
        const back = decodeVote(encodeVote(v));
        assert.deepEqual(back, v);
        assert.equal(recoverSigner(voteMessageDigest(back), back.signature), keys[0]!.address);
      }
    }
    assert.deepEqual(voteMessageDigest({ chainId: 1n, kind: 'precommit', height: 2n, round: 3, blockHash: HASH }), voteDigest(1n, 2n, 3, HASH));
    assert.notDeepEqual(prevoteDigest(1n, 2n, 3, HASH), voteDigest(1n, 2n, 3, HASH));
  });

  it('round-trips proposals and commits; the certificate encoding is canonical (vote order does not matter)', () => {
    const votes = keys.map((k) => vote('precommit', k)).map((v) => ({ validator: v.validator, signature: v.signature }));
    const cert = { number: 7n, blockHash: HASH, round: 2, votes };
    const reversed = { ...cert, votes: [...votes].reverse() };
    assert.deepEqual(encodeCertificate(cert), encodeCertificate(reversed));
    assert.deepEqual(certificateCommitment(cert), certificateCommitment(reversed));
    assert.equal(certificateCommitment(cert).length, 32);
    const decoded = decodeCertificate(encodeCertificate(cert));
    assert.ok(verifyCertificate(17741n, decoded, keys.map((k) => ({ address: k.address, stake: 1n }))).valid);
    const p = { chainId: 17741n, height: 8n, round: 1, validRound: 0, block: Uint8Array.from([0xc0]), builderSignature: votes[0]!.signature, parentCertificate: decoded, signature: votes[1]!.signature };
    const back = decodeProposal(encodeProposal(p));
    assert.equal(back.validRound, 0);
    assert.deepEqual(back.parentCertificate, decoded);
    assert.deepEqual(decodeProposal(encodeProposal({ ...p, validRound: -1, parentCertificate: undefined })).parentCertificate, undefined);
    assert.deepEqual(decodeCommit(encodeCommit({ chainId: 5n, certificate: decoded })).certificate, decoded);
  });

  it('refuses junk, oversize and malformed fields with FRAME_MALFORMED / FRAME_TOO_LONG', () => {
    const good = encodeVote(vote('prevote', keys[0]!));
    assert.equal(code(() => decodeVote(Uint8Array.from([0xde, 0xad]))), 'FRAME_MALFORMED');
    assert.equal(code(() => decodeVote(new Uint8Array(MAX_VOTE_BYTES + 1))), 'FRAME_TOO_LONG');
    assert.equal(code(() => decodeVote(RLP.encode([]))), 'FRAME_MALFORMED');
    const fields = RLP.decode(good) as Uint8Array[];
    const mutate = (i: number, value: Uint8Array | Uint8Array[]): Uint8Array => RLP.encode(fields.map((f, j) => (j === i ? value : f)) as Uint8Array[]);
    assert.equal(code(() => decodeVote(mutate(1, Uint8Array.from([3])))), 'FRAME_MALFORMED', 'unknown vote kind');
    assert.equal(code(() => decodeVote(mutate(4, new Uint8Array(31)))), 'FRAME_MALFORMED', 'short hash');
    assert.equal(code(() => decodeVote(mutate(5, new Uint8Array(19)))), 'FRAME_MALFORMED', 'short address');
    assert.equal(code(() => decodeVote(mutate(6, new Uint8Array(64)))), 'FRAME_MALFORMED', 'short signature');
    assert.equal(code(() => decodeVote(mutate(2, Uint8Array.from([0, 1])))), 'FRAME_MALFORMED', 'leading zero');
    assert.equal(code(() => decodeVote(mutate(6, [new Uint8Array(1)]))), 'FRAME_MALFORMED', 'list for bytes');
    assert.equal(code(() => decodeProposal(new Uint8Array(5 * 1024 * 1024))), 'FRAME_TOO_LONG');
    const p = RLP.decode(encodeProposal({ chainId: 1n, height: 1n, round: 1, validRound: -1, block: new Uint8Array(), builderSignature: `0x${'11'.repeat(65)}`, parentCertificate: undefined, signature: `0x${'11'.repeat(65)}` })) as Uint8Array[];
    p[3] = Uint8Array.from([2]); // validRound 1 == round 1
    assert.equal(code(() => decodeProposal(RLP.encode(p))), 'FRAME_MALFORMED');
    assert.equal(code(() => decodeCommit(RLP.encode([Uint8Array.from([1]), [new Uint8Array(), new Uint8Array(32), new Uint8Array(), []]]))), 'none');
    assert.equal(code(() => decodeCommit(RLP.encode([Uint8Array.from([1]), [new Uint8Array(), new Uint8Array(31), new Uint8Array(), []]]))), 'FRAME_MALFORMED');
  });
});

describe('sync codec', () => {
  it('round-trips requests and block frames, caps the count and reads frames across chunk boundaries', async () => {
    const r = decodeSyncRequest(encodeSyncRequest({ chainId: 9n, kind: 'blocks', from: 300n, count: 1000 }));
    assert.deepEqual(r, { chainId: 9n, kind: 'blocks', from: 300n, count: 64 });
    assert.deepEqual(decodeSyncRequest(encodeSyncRequest({ chainId: 9n, kind: 'status' })), { chainId: 9n, kind: 'status' });
    const b = { block: Uint8Array.from([1, 2, 3]), seal: new TextEncoder().encode('{}') };
    const bytes = [frame(encodeSyncedBlock(b)), frame(encodeSyncedBlock(b))];
    const all = new Uint8Array(bytes[0]!.length * 2);
    all.set(bytes[0]!);
    all.set(bytes[1]!, bytes[0]!.length);
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < all.length; i += 3) yield all.subarray(i, i + 3);
    }
    const out: Uint8Array[] = [];
    for await (const f of readFrames(chunks())) out.push(f);
    assert.equal(out.length, 2);
    assert.deepEqual(decodeSyncedBlock(out[1]!), b);
  });

  it('refuses an oversize frame and a stream cut inside a frame', async () => {
    const huge = new Uint8Array(4);
    new DataView(huge.buffer).setUint32(0, 0xffffffff);
    async function* one(x: Uint8Array): AsyncGenerator<Uint8Array> {
      yield x;
    }
    const drain = async (x: Uint8Array): Promise<string> => {
      try {
        for await (const f of readFrames(one(x))) void f;
      } catch (e) {
        return isEnergyMeshError(e) ? e.code : 'other';
      }
      return 'none';
    };
    assert.equal(await drain(huge), 'FRAME_TOO_LONG');
    assert.equal(await drain(frame(new Uint8Array(10)).subarray(0, 8)), 'FRAME_TRUNCATED');
    assert.equal(code(() => decodeSyncRequest(RLP.encode([Uint8Array.from([1]), Uint8Array.from([7]), new Uint8Array(), new Uint8Array()]))), 'FRAME_MALFORMED');
  });

  it('transaction batches: round trip, legacy (list-shaped) raws kept as bytes, bounds enforced', () => {
    const raws = [Uint8Array.from([0x02, 0xc1, 0x80]), RLP.encode([Uint8Array.from([1]), Uint8Array.from([2])]), new Uint8Array(1000).fill(7)];
    assert.deepEqual(decodeTransactions(encodeTransactions(raws)), raws);
    assert.equal(code(() => decodeTransactions(RLP.encode([]))), 'FRAME_MALFORMED');
    assert.equal(code(() => decodeTransactions(RLP.encode([new Uint8Array()]))), 'FRAME_MALFORMED');
    assert.equal(code(() => decodeTransactions(RLP.encode([[Uint8Array.from([1])]] as never))), 'FRAME_MALFORMED');
    assert.equal(code(() => decodeTransactions(Uint8Array.from([0x02, 0x01]))), 'FRAME_MALFORMED');
    assert.equal(code(() => decodeTransactions(RLP.encode(Array.from({ length: MAX_TX_BATCH + 1 }, () => Uint8Array.from([1]))))), 'FRAME_TOO_LONG');
    assert.equal(code(() => decodeTransactions(RLP.encode([new Uint8Array(129 * 1024)]))), 'FRAME_MALFORMED');
    assert.equal(code(() => decodeTransactions(new Uint8Array(2 * 1024 * 1024))), 'FRAME_TOO_LONG');
  });

  it('the hash of a block from its RLP without decoding its transactions', async () => {
    const { createBlock } = await import('@ethereumjs/block');
    const { createChainCommon } = await import('../execution/chain-common.ts');
    const block = createBlock({ header: { number: 5n, timestamp: 7n, gasLimit: 30_000_000n, baseFeePerGas: 7n } }, { common: createChainCommon(17741n, false) });
    assert.equal(blockHashOfRlp(block.serialize()), `0x${Buffer.from(block.hash()).toString('hex')}`);
    assert.throws(() => blockHashOfRlp(Uint8Array.from([0x01])), (e: unknown) => isEnergyMeshError(e, 'FRAME_MALFORMED'));
  });
});
