/**
 * The pure parts of the contract clients: ids, the EIP-712 reading batch digest and signatures, custom-error
 * decoding, and the deploy options' validation (no chain needed).
 */
import assert from 'node:assert/strict';
import { AbiCoder, Interface, Wallet, keccak256, recoverAddress, toUtf8Bytes, type Signer } from 'ethers';
import { isEnergyMeshError } from '../../core/errors.ts';
import { loadArtifact } from './artifacts.ts';
import {
  attestReadings,
  decodeContractError,
  intervalOf,
  intervalOfOrder,
  meterIdOf,
  readingBatchDigest,
  readingsHash,
  settlementError,
  signReadingBatch,
  type Reading,
} from './client.ts';
import { deploySettlement, type DeploySettlementOptions } from './deploy.ts';

const REGISTRY = '0x00000000000000000000000000000000000000aa';
const readings: Reading[] = [
  { meterId: meterIdOf('site', 'm1'), interval: 5_900_000n, exportWh: 1500n, importWh: 0n, flags: 0 },
  { meterId: meterIdOf('site', 'm2'), interval: 5_900_000n, exportWh: 0n, importWh: 320n, flags: 2 },
];

describe('settlement contract clients', () => {
  it('derives meter ids, intervals and order intervals', () => {
    assert.equal(meterIdOf('site', 'm1'), keccak256(toUtf8Bytes('site/m1')));
    assert.equal(intervalOf(1_770_000_299, 300), 5_900_000n);
    assert.equal(intervalOf(1_770_000_300n, 300n), 5_900_001n);
    assert.equal(intervalOfOrder((5_900_001n << 24n) | 7n), 5_900_001n);
  });

  it('hashes readings as abi.encode(Reading[]) and signs the EIP-712 batch digest', async () => {
    const encoded = AbiCoder.defaultAbiCoder().encode(
      ['tuple(bytes32,uint64,uint64,uint64,uint16)[]'],
      [readings.map((r) => [r.meterId, r.interval, r.exportWh, r.importWh, r.flags])],
    );
    assert.equal(readingsHash(readings), keccak256(encoded));
    // abi.encode of a static-tuple array: offset, length, then 5 words per reading
    assert.equal((encoded.length - 2) / 2, 64 + readings.length * 160);
    const digest = readingBatchDigest(17741n, REGISTRY, readings);
    assert.notEqual(digest, readingBatchDigest(17742n, REGISTRY, readings));
    assert.notEqual(digest, readingBatchDigest(17741n, REGISTRY, readings.slice(1)));
    const wallets = [Wallet.createRandom(), Wallet.createRandom(), Wallet.createRandom()];
    const sig = await signReadingBatch(wallets[0]!, 17741n, REGISTRY, readings);
    assert.equal(recoverAddress(digest, sig), wallets[0]!.address);
    const sigs = await attestReadings(wallets, 17741n, REGISTRY, readings);
    const signers = sigs.map((s) => BigInt(recoverAddress(digest, s)));
    assert.deepEqual(signers, [...signers].sort((a, b) => (a < b ? -1 : 1)));
    assert.equal(new Set(signers).size, 3);
  });

  it('decodes custom errors from revert data, nested as ethers reports them', () => {
    const market = new Interface(loadArtifact('EnergyMarket').abi as never[]);
    const data = market.encodeErrorResult('FillExceedsOrder', [42n, 7n, 5n]);
    assert.deepEqual(decodeContractError({ data }), { name: 'FillExceedsOrder', args: [42n, 7n, 5n] });
    // an error raised in the ledger while the market was called
    const ledger = new Interface(loadArtifact('EnergyLedger').abi as never[]);
    const nested = { code: 'CALL_EXCEPTION', info: { error: { data: ledger.encodeErrorResult('InsufficientEB', [REGISTRY, 2n, 1n]) } } };
    assert.deepEqual(decodeContractError(nested), { name: 'InsufficientEB', args: ['0x00000000000000000000000000000000000000AA', 2n, 1n] });
    const e = settlementError('placeOrder', nested);
    assert.ok(isEnergyMeshError(e, 'SETTLEMENT_REVERTED'));
    assert.equal(e.message, 'placeOrder reverted: InsufficientEB(0x00000000000000000000000000000000000000AA, 2, 1)');
    const reason = '0x08c379a0' + AbiCoder.defaultAbiCoder().encode(['string'], ['nope']).slice(2);
    assert.deepEqual(decodeContractError({ data: reason }), { name: 'Error', args: ['nope'] });
    assert.equal(decodeContractError(new Error('socket hang up')), undefined);
    const other = new Error('socket hang up');
    assert.equal(settlementError('x', other), other);
  });

  it('validates the deploy options before touching the chain', async () => {
    const base: DeploySettlementOptions = {
      intervalSeconds: 300,
      oracles: [REGISTRY],
      oracleThreshold: 1,
      multisigOwners: [REGISTRY],
      multisigThreshold: 1,
      registrar: REGISTRY,
      settler: REGISTRY,
      operator: REGISTRY,
      utility: REGISTRY,
      reserveWei: 0n,
    };
    const signer: Signer = Wallet.createRandom();
    const invalid = (e: unknown): boolean => isEnergyMeshError(e, 'INVALID_ARGUMENT');
    await assert.rejects(deploySettlement(signer, { ...base, intervalSeconds: 600 }), invalid);
    await assert.rejects(deploySettlement(signer, { ...base, oracleThreshold: 2 }), invalid);
    await assert.rejects(deploySettlement(signer, { ...base, multisigThreshold: 0 }), invalid);
    await assert.rejects(deploySettlement(signer, base), /connected to a provider/);
  });
});
