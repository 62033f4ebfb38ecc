/**
 * Read side of the staking system contract: the validator set, parameters, slashings, proposals and the
 * fee/stake accounting at any block, through `eth_call`-style reads of the chain state (deterministic: the
 * same block gives the same answer on every node). The network node takes its validator set from
 * `activeValidators`; the JSON-RPC `empos_*` methods and the CLI use the rest.
 *
 * Error policy: reads throw what `Chain.call` throws (`INVALID_ARGUMENT` for an unknown block) and
 * `INTERNAL` when the contract is missing or answers something undecodable.
 */
import { bytesToHex } from '@ethereumjs/util';
import type { Result } from 'ethers';
import { EnergyMeshError } from '../../core/errors.ts';
import type { CallRequest, CallResult } from '../execution/chain.ts';
import {
  PROPOSAL_KINDS,
  PROPOSAL_STATES,
  SLASH_REASONS,
  STAKING_ADDRESS,
  stakingInterface,
  VALIDATOR_STATUS,
  type ParamName,
} from './system-contract.ts';

/** What the registry needs from a chain (a `Chain` has it). */
export interface StateReader {
  call(req: CallRequest, blockNumber?: bigint): Promise<CallResult>;
}

export interface ValidatorInfo {
  address: string;
  stake: bigint;
  status: (typeof VALIDATOR_STATUS)[number];
  /** Stake waiting for release after unstaking (still slashable). */
  unbonding: bigint;
  /** Fees the validator may claim now (wei). */
  pendingFees: bigint;
  /** Everything slashed from it so far (burned). */
  slashed: bigint;
  /**
   * Seconds it was counted offline: per block made while it was absent from the parent's certificate,
   * the seconds since the previous block capped at `offlineClock().capSeconds` (a network-wide stall is
   * not charged to anyone). Compare with `offlineClock().chargeableSeconds`, counted on the same clock.
   */
  offlineSeconds: number;
}

/** The clock the offline penalties run on. */
export interface OfflineClock {
  /** The most seconds one block charges an absentee: 4 slots of max(blockTimeMs, 1 s), rounded up. */
  capSeconds: bigint;
  /**
   * Σ over blocks (from block 2) of min(seconds since the previous block, cap): what a validator absent
   * from every certificate would have in `offlineSeconds`. Schedule performance over an interval:
   * 1 − ΔofflineSeconds / ΔchargeableSeconds (never below 0, and a stall changes neither term much).
   */
  chargeableSeconds: bigint;
}

export type StakingParams = Record<ParamName, bigint>;

export interface SlashingRecord {
  validator: string;
  reason: (typeof SLASH_REASONS)[number];
  amount: bigint;
  /** Blocks the record covers (consecutive offline blocks share one record). */
  fromBlock: bigint;
  toBlock: bigint;
  timestamp: bigint;
}

export interface ProposalInfo {
  id: bigint;
  proposer: string;
  kind: (typeof PROPOSAL_KINDS)[number];
  /** For `param`: the parameter's name; for `slash`: undefined. */
  param?: ParamName;
  /** New parameter value, or the slash in basis points. */
  value: bigint;
  /** Slash target (for `slash`). */
  target?: string;
  createdAt: bigint;
  deadline: bigint;
  yes: bigint;
  no: bigint;
  state: (typeof PROPOSAL_STATES)[number];
}

export interface StakingAccounting {
  totalStaked: bigint;
  totalActiveStake: bigint;
  totalUnbonding: bigint;
  feesReceived: bigint;
  feesClaimed: bigint;
  undistributedFees: bigint;
  burned: bigint;
}

const PARAM_NAMES: ParamName[] = ['blockTimeMs', 'minBaseFee', 'minStake', 'maxValidators', 'offlineSlashBpsPerDay', 'equivocationSlashBps', 'unbondingSeconds', 'votingPeriodSeconds'];

async function read(chain: StateReader, method: string, args: unknown[], blockNumber: bigint | undefined): Promise<Result> {
  const res = await chain.call({ to: STAKING_ADDRESS, data: stakingInterface.encodeFunctionData(method, args), gas: 1_000_000_000n }, blockNumber);
  if (res.error !== undefined || res.returnValue.length === 0) {
    throw new EnergyMeshError('INTERNAL', `staking contract read ${method} failed: ${res.error?.message ?? 'no code at the system address'}`);
  }
  return stakingInterface.decodeFunctionResult(method, bytesToHex(res.returnValue));
}

const lower = (a: unknown): string => String(a).toLowerCase();

/**
 * The active validators at `blockNumber` (default: head) with their bonded stake, sorted by address.
 * These are the validators whose votes count for finality and who share the fees.
 */
export async function activeValidators(chain: StateReader, blockNumber?: bigint): Promise<{ address: string; stake: bigint }[]> {
  const r = await read(chain, 'activeValidators', [], blockNumber);
  const addrs = r[0] as string[];
  const stakes = r[1] as bigint[];
  return addrs.map((a, i) => ({ address: lower(a), stake: stakes[i]! })).sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/** Every validator that ever staked, in staking order. */
export async function validators(chain: StateReader, blockNumber?: bigint): Promise<ValidatorInfo[]> {
  const r = await read(chain, 'validators', [], blockNumber);
  return (r[0] as Result[]).map((v) => ({
    address: lower(v[0]),
    stake: v[1] as bigint,
    status: VALIDATOR_STATUS[Number(v[2])] ?? 'none',
    unbonding: v[3] as bigint,
    pendingFees: v[4] as bigint,
    slashed: v[5] as bigint,
    offlineSeconds: Number(v[6]),
  }));
}

/** The governable parameters now in force. */
export async function stakingParams(chain: StateReader, blockNumber?: bigint): Promise<StakingParams> {
  const r = (await read(chain, 'params', [], blockNumber))[0] as Result;
  return Object.fromEntries(PARAM_NAMES.map((n, i) => [n, r[i] as bigint])) as StakingParams;
}

export async function slashRecords(chain: StateReader, blockNumber?: bigint): Promise<SlashingRecord[]> {
  const r = await read(chain, 'slashRecords', [], blockNumber);
  return (r[0] as Result[]).map((s) => ({
    validator: lower(s[0]),
    reason: SLASH_REASONS[Number(s[1])] ?? 'governance',
    amount: s[2] as bigint,
    fromBlock: s[3] as bigint,
    toBlock: s[4] as bigint,
    timestamp: s[5] as bigint,
  }));
}

export async function proposals(chain: StateReader, blockNumber?: bigint): Promise<ProposalInfo[]> {
  const r = await read(chain, 'proposals', [], blockNumber);
  return (r[0] as Result[]).map((x) => {
    const kind = PROPOSAL_KINDS[Number(x[2])] ?? 'param';
    const out: ProposalInfo = {
      id: x[0] as bigint,
      proposer: lower(x[1]),
      kind,
      value: x[4] as bigint,
      createdAt: x[6] as bigint,
      deadline: x[7] as bigint,
      yes: x[8] as bigint,
      no: x[9] as bigint,
      state: PROPOSAL_STATES[Number(x[10])] ?? 'open',
    };
    if (kind === 'param') out.param = PARAM_NAMES[Number(x[3])];
    else out.target = lower(x[5]);
    return out;
  });
}

export async function stakingAccounting(chain: StateReader, blockNumber?: bigint): Promise<StakingAccounting> {
  const r = (await read(chain, 'accounting', [], blockNumber))[0] as Result;
  return {
    totalStaked: r[0] as bigint,
    totalActiveStake: r[1] as bigint,
    totalUnbonding: r[2] as bigint,
    feesReceived: r[3] as bigint,
    feesClaimed: r[4] as bigint,
    undistributedFees: r[5] as bigint,
    burned: r[6] as bigint,
  };
}

/** The offline-penalty clock at `blockNumber` (default: head): the per-block cap and the chargeable seconds. */
export async function offlineClock(chain: StateReader, blockNumber?: bigint): Promise<OfflineClock> {
  const [cap, chargeable] = await Promise.all([read(chain, 'offlineChargeCap', [], blockNumber), read(chain, 'chargeableSeconds', [], blockNumber)]);
  return { capSeconds: cap[0] as bigint, chargeableSeconds: chargeable[0] as bigint };
}

/** The fees `address` may claim now (wei). */
export async function pendingFees(chain: StateReader, address: string, blockNumber?: bigint): Promise<bigint> {
  return (await read(chain, 'pendingFees', [address], blockNumber))[0] as bigint;
}

/** Parameter name → id for `propose` (undefined for an unknown name). */
export function paramId(name: string): number | undefined {
  const i = PARAM_NAMES.indexOf(name as ParamName);
  return i < 0 ? undefined : i;
}
