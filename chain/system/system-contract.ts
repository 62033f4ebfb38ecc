/**
 * The EMPoS staking system contract as the chain sees it: its fixed address, the system caller, the ABI,
 * installation into the genesis state and the system calls the chain makes around every block.
 *
 * A system call runs the contract from SYSTEM_ADDRESS (0xff…fe, as in EIP-4788: no key exists) through
 * the EVM directly: no transaction, no signature, no gas charged, no nonce, no receipt. It is part of
 * block execution, so every validator makes the same calls and the state root covers the result.
 *
 * Error policy: installation failures throw `CONFIG_INVALID` (the genesis cannot be built); a reverting
 * per-block system call throws `INTERNAL` — it is a bug in the contract, and the block is not produced
 * (or, on import, refused) rather than built with fees or penalties silently lost.
 */
import type { Block } from '@ethereumjs/block';
import { Account, bigIntToBytes, bytesToBigInt, createAddressFromString, hexToBytes, setLengthLeft, type Address, type PrefixedHexString } from '@ethereumjs/util';
import type { VM } from '@ethereumjs/vm';
import { Interface } from 'ethers';
import { EnergyMeshError } from '../../core/errors.ts';
import type { Genesis } from '../execution/genesis.ts';
import artifact from './EmposStaking.json' with { type: 'json' };

/** Where the staking contract lives in every EMPoS chain. */
export const STAKING_ADDRESS = '0x000000000000000000000000000000000000e05a';
/** The caller of system calls (no private key exists for it). */
export const SYSTEM_ADDRESS = '0xfffffffffffffffffffffffffffffffffffffffe';
/** Gas given to a system call (not charged; only bounds the loop over ≤ 100,000 validators). */
export const SYSTEM_CALL_GAS = 10_000_000_000n;

export const stakingAbi = artifact.abi;
export const stakingInterface = new Interface(artifact.abi);

/** Governable parameter ids (`propose(param, value)`). */
export const PARAMS = {
  blockTimeMs: 0,
  minBaseFee: 1,
  minStake: 2,
  maxValidators: 3,
  offlineSlashBpsPerDay: 4,
  equivocationSlashBps: 5,
  unbondingSeconds: 6,
  votingPeriodSeconds: 7,
} as const;
export type ParamName = keyof typeof PARAMS;

export const VALIDATOR_STATUS = ['none', 'active', 'inactive', 'removed'] as const;
export const SLASH_REASONS = ['offline', 'equivocation', 'governance'] as const;
export const PROPOSAL_KINDS = ['param', 'slash'] as const;
export const PROPOSAL_STATES = ['open', 'executed', 'rejected', 'expired'] as const;

const STAKING = createAddressFromString(STAKING_ADDRESS);
const SYSTEM = createAddressFromString(SYSTEM_ADDRESS);

/** The runtime code placed at STAKING_ADDRESS. */
export function stakingRuntimeCode(): Uint8Array {
  return hexToBytes(artifact.deployedBytecode as PrefixedHexString);
}

/**
 * Runs `data` against the staking contract as the system. Returns the return data; throws `INTERNAL`
 * when it reverts. Leaves no trace of the system account (no nonce, no touched empty account).
 */
export async function systemCall(vm: VM, block: Block, data: string): Promise<Uint8Array> {
  const journal = vm.evm.journal;
  journal.cleanJournal();
  vm.stateManager.originalStorageCache.clear();
  try {
    const res = await vm.evm.runCall({
      caller: SYSTEM,
      origin: SYSTEM,
      to: STAKING,
      data: hexToBytes(data as PrefixedHexString),
      gasLimit: SYSTEM_CALL_GAS,
      gasPrice: 0n,
      value: 0n,
      block,
      skipNonceIncrement: true,
    });
    const err = res.execResult.exceptionError;
    if (err !== undefined) {
      let reason = err.error as string;
      try {
        const parsed = stakingInterface.parseError(res.execResult.returnValue);
        if (parsed !== null) reason = String(parsed.args[0] ?? parsed.name);
      } catch {
        // not an Error(string)
      }
      throw new EnergyMeshError('INTERNAL', `staking system call failed: ${reason}`, { details: { selector: data.slice(0, 10) } });
    }
    return res.execResult.returnValue;
  } finally {
    await journal.cleanup();
    journal.cleanJournal();
    vm.stateManager.originalStorageCache.clear();
  }
}

/**
 * Installs the contract in the genesis state: its code, a balance equal to the genesis validators'
 * stakes (minted in addition to `alloc`), and `initialize(params, validators, stakes)` as a system call.
 */
export async function installStakingContract(vm: VM, genesis: Genesis, genesisBlock: Block): Promise<void> {
  const state = vm.stateManager;
  const staked = genesis.validators.reduce((a, v) => a + v.stake, 0n);
  if (genesis.alloc.has(STAKING_ADDRESS) || genesis.alloc.has(SYSTEM_ADDRESS)) {
    throw new EnergyMeshError('CONFIG_INVALID', 'genesis alloc: the staking contract and system addresses are reserved');
  }
  await state.putAccount(STAKING, new Account(1n, staked));
  await state.putCode(STAKING, stakingRuntimeCode());
  const c = genesis.consensus;
  const data = stakingInterface.encodeFunctionData('initialize', [
    {
      blockTimeMs: c.blockTimeMs,
      minBaseFee: 0n,
      minStake: c.minStake,
      maxValidators: c.maxValidators,
      offlineSlashBpsPerDay: c.offlineSlashBpsPerDay,
      equivocationSlashBps: c.equivocationSlashBps,
      unbondingSeconds: c.unbondingSeconds,
      votingPeriodSeconds: c.votingPeriodSeconds,
    },
    genesis.validators.map((v) => v.address),
    genesis.validators.map((v) => v.stake),
  ]);
  try {
    await systemCall(vm, genesisBlock, data);
  } catch (e) {
    throw new EnergyMeshError('CONFIG_INVALID', 'genesis: the staking contract refused the validators or parameters', { cause: e });
  }
}

/**
 * Storage slot of `Params.minBaseFee` in EmposStaking (slot 0: `initialized`; the `Params` struct from slot
 * 1: blockTimeMs, minBaseFee, …). `staking.spec.ts` checks it against `params()`.
 */
export const MIN_BASE_FEE_SLOT = 2n;

/** The governed base-fee floor, read straight from the contract's storage (0 without the contract). */
export async function readMinBaseFee(state: { getStorage(address: Address, key: Uint8Array): Promise<Uint8Array> }): Promise<bigint> {
  const key = setLengthLeft(bigIntToBytes(MIN_BASE_FEE_SLOT), 32);
  const v = await state.getStorage(STAKING, key);
  return v.length === 0 ? 0n : bytesToBigInt(v);
}

/**
 * `onBlockStart(list, kind)`: offline accounting for the previous block's certificate. With the set that
 * voted on it (`voters`), the contract gets the absentees (voters − signers, sorted) and touches only them;
 * without, it gets the signers and takes its own active list as the voters; without signers, nothing.
 */
export function encodeBlockStart(parentSigners: readonly string[] | undefined, parentVoters?: readonly string[]): string {
  if (parentSigners === undefined) return stakingInterface.encodeFunctionData('onBlockStart', [[], 0]);
  if (parentVoters === undefined) return stakingInterface.encodeFunctionData('onBlockStart', [parentSigners, 1]);
  const signed = new Set(parentSigners.map((a) => a.toLowerCase()));
  const absent = [...new Set(parentVoters.map((a) => a.toLowerCase()))].filter((a) => !signed.has(a)).sort();
  return stakingInterface.encodeFunctionData('onBlockStart', [absent, 2]);
}

/** `distributeFees(amount)`: the block's fees, already credited to the contract's balance. */
export function encodeDistributeFees(amount: bigint): string {
  return stakingInterface.encodeFunctionData('distributeFees', [amount]);
}

/**
 * Credits `fees` (every fee of the block) to the contract and lets it share them; a no-op when zero.
 * Called after the block's transactions, before the block reward.
 */
export async function creditBlockFees(vm: VM, block: Block, fees: bigint): Promise<void> {
  if (fees === 0n) return;
  const acc = (await vm.stateManager.getAccount(STAKING)) ?? new Account();
  acc.balance += fees;
  await vm.stateManager.putAccount(STAKING, acc);
  await systemCall(vm, block, encodeDistributeFees(fees));
}

/** Takes the priority fee a transaction just paid the coinbase back (it goes to the fee pool instead). */
export async function reclaimPriorityFee(vm: VM, coinbase: Block['header']['coinbase'], minerValue: bigint): Promise<void> {
  if (minerValue === 0n) return;
  const acc = await vm.stateManager.getAccount(coinbase);
  if (acc === undefined || acc.balance < minerValue) {
    throw new EnergyMeshError('INTERNAL', 'coinbase balance below the priority fee it was just paid');
  }
  acc.balance -= minerValue;
  if (acc.isEmpty()) await vm.stateManager.deleteAccount(coinbase);
  else await vm.stateManager.putAccount(coinbase, acc);
}
