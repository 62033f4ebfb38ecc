/**
 * Turns equivocation evidence a node observed (two conflicting precommits of one validator at one
 * height and round) into the transaction anyone may send: `submitEvidence` on the staking system
 * contract, which verifies both signatures and slashes 5 % with removal. The node signs it with its own
 * validator key (the reporter pays the gas), adds it to its pool and gossips it — unless a dry run on the
 * head state shows the contract would refuse it (evidence already submitted by another node, validator
 * already removed): then nothing is sent, so no gas is wasted and the key's nonces are not consumed.
 */
import { Wallet } from 'ethers';
import { hexToBytes, type PrefixedHexString } from '@ethereumjs/util';
import type { EquivocationEvidence } from '../consensus/vote-collector.ts';
import { EnergyMeshError } from '../../core/errors.ts';
import { revertMessage, type Chain } from '../execution/chain.ts';
import { STAKING_ADDRESS, stakingInterface } from '../system/system-contract.ts';

/** Gas for submitEvidence (two ecrecovers, the slash and the record; ~150k measured) with headroom. */
export const EVIDENCE_GAS_LIMIT = 400_000n;

export function evidenceCalldata(e: EquivocationEvidence): string {
  return stakingInterface.encodeFunctionData('submitEvidence', [e.validator, e.a.number, BigInt(e.a.round), e.a.blockHash, e.a.signature, e.b.blockHash, e.b.signature]);
}

/** Signs the evidence transaction from `reporterKey` at its next pending nonce; returns the raw bytes. */
export async function evidenceTransaction(chain: Chain, reporterKey: string, e: EquivocationEvidence): Promise<Uint8Array> {
  const wallet = new Wallet(reporterKey);
  const nonce = await chain.pendingNonce(wallet.address);
  const baseFee = chain.nextBaseFee();
  const raw = await wallet.signTransaction({
    type: 2,
    chainId: chain.chainId,
    nonce: Number(nonce),
    to: STAKING_ADDRESS,
    data: evidenceCalldata(e),
    gasLimit: EVIDENCE_GAS_LIMIT,
    maxFeePerGas: baseFee * 2n + 1_000_000_000n,
    maxPriorityFeePerGas: 1_000_000_000n,
  });
  return hexToBytes(raw as PrefixedHexString);
}

/**
 * Builds, pools and returns the evidence transaction (hash and raw bytes for gossip). Throws
 * `SETTLEMENT_REVERTED` (with the contract's reason) without sending when the head state would refuse it.
 */
export async function submitEvidence(chain: Chain, reporterKey: string, e: EquivocationEvidence): Promise<{ hash: string; raw: Uint8Array }> {
  const from = new Wallet(reporterKey).address;
  const dry = await chain.call({ from, to: STAKING_ADDRESS, data: evidenceCalldata(e), gas: EVIDENCE_GAS_LIMIT });
  if (dry.error !== undefined) {
    const reason = revertMessage(dry.error.data);
    throw new EnergyMeshError('SETTLEMENT_REVERTED', `evidence not submitted: ${reason}`, { details: { validator: e.validator, number: e.a.number.toString(), round: e.a.round, reason } });
  }
  const raw = await evidenceTransaction(chain, reporterKey, e);
  const hash = await chain.submitRawTransaction(raw);
  return { hash, raw };
}
