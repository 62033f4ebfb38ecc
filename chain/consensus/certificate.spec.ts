import assert from 'node:assert/strict';
import { decodeSeal, encodeSeal, proposalDigest, recoverSigner, ValidatorKey, verifyCertificate, voteDigest, type FinalityCertificate } from './certificate.ts';

const keys = [1, 2, 3, 4].map((i) => new ValidatorKey(`0x${i.toString(16).padStart(64, '0')}`));
const HASH = `0x${'ab'.repeat(32)}`;
const CHAIN = 77n;

function cert(signers: ValidatorKey[], opts: { number?: bigint; hash?: string; round?: number } = {}): FinalityCertificate {
  const number = opts.number ?? 10n;
  const blockHash = opts.hash ?? HASH;
  const round = opts.round ?? 0;
  return { number, blockHash, round, votes: signers.map((k) => ({ validator: k.address, signature: k.sign(voteDigest(CHAIN, number, round, blockHash)) })) };
}

describe('finality certificates', () => {
  const equal = keys.map((k) => ({ address: k.address, stake: 100n }));

  it('is final with ≥ 2/3 of the stake and not below', () => {
    assert.equal(verifyCertificate(CHAIN, cert(keys.slice(0, 3)), equal).valid, true);
    const two = verifyCertificate(CHAIN, cert(keys.slice(0, 2)), equal);
    assert.equal(two.valid, false);
    assert.equal(two.signedStake, 200n);
    assert.equal(two.totalStake, 400n);
  });

  it('weighs votes by stake, exactly at the 2/3 boundary', () => {
    const weighted = [
      { address: keys[0]!.address, stake: 200n },
      { address: keys[1]!.address, stake: 50n },
      { address: keys[2]!.address, stake: 50n },
    ];
    assert.equal(verifyCertificate(CHAIN, cert([keys[0]!]), weighted).valid, true, '200/300 = 2/3 exactly');
    assert.equal(verifyCertificate(CHAIN, cert([keys[1]!, keys[2]!]), weighted).valid, false);
    assert.equal(verifyCertificate(CHAIN, cert([keys[0]!]), [...weighted, { address: keys[3]!.address, stake: 1n }]).valid, false);
  });

  it('one validator alone finalizes (embedded mode)', () => {
    assert.equal(verifyCertificate(CHAIN, cert([keys[0]!]), [{ address: keys[0]!.address, stake: 1n }]).valid, true);
  });

  it('rejects duplicate votes, outsiders, forged and misbound signatures', () => {
    const dup = cert([keys[0]!, keys[1]!]);
    dup.votes.push(dup.votes[0]!, dup.votes[1]!);
    assert.match(verifyCertificate(CHAIN, dup, equal).reason ?? '', /duplicate/);
    const outsider = new ValidatorKey(`0x${'99'.repeat(32)}`);
    assert.match(verifyCertificate(CHAIN, cert([...keys.slice(0, 3), outsider]), equal).reason ?? '', /not an active validator/);
    const forged = cert(keys.slice(0, 3));
    forged.votes[0] = { validator: keys[0]!.address, signature: forged.votes[1]!.signature };
    assert.match(verifyCertificate(CHAIN, forged, equal).reason ?? '', /bad signature/);
    // votes for another block, round or chain do not carry over
    const other = cert(keys.slice(0, 3), { hash: `0x${'cd'.repeat(32)}` });
    assert.equal(verifyCertificate(CHAIN, { ...other, blockHash: HASH }, equal).valid, false);
    assert.equal(verifyCertificate(CHAIN, { ...cert(keys.slice(0, 3), { round: 1 }), round: 0 }, equal).valid, false);
    assert.equal(verifyCertificate(CHAIN + 1n, cert(keys.slice(0, 3)), equal).valid, false);
    const junk = cert(keys.slice(0, 3));
    junk.votes[2] = { validator: keys[2]!.address, signature: '0x1234' };
    assert.equal(verifyCertificate(CHAIN, junk, equal).valid, false);
  });

  it('signs proposals verifiably and round-trips seals', () => {
    const sig = keys[0]!.sign(proposalDigest(CHAIN, 5n, HASH));
    assert.equal(recoverSigner(proposalDigest(CHAIN, 5n, HASH), sig), keys[0]!.address);
    assert.notEqual(recoverSigner(proposalDigest(CHAIN, 6n, HASH), sig), keys[0]!.address);
    const seal = { proposer: keys[0]!.address, proposerSignature: sig, certificate: cert([keys[0]!], { number: 5n }) };
    assert.deepEqual(decodeSeal(encodeSeal(seal)), seal);
    assert.equal(JSON.stringify(keys[0]), JSON.stringify({ address: keys[0]!.address }), 'the private key is not serialised');
  });
});
