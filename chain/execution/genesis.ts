/**
 * The genesis file of an EMPoS chain: chain id, the EB allocations (by default the seed distribution of
 * 1,000,000,000 EB: 40 % producers, 30 % operations, 20 % ecosystem, 10 % partnerships), the initial
 * validators and the consensus parameters (the design's defaults). Parsing validates every field and
 * throws `CONFIG_INVALID` naming the field; it never accepts a partial file silently.
 */
import { EnergyMeshError } from '../../core/errors.ts';

/** 1 EB in wei (EB has 18 decimals like ether). */
export const WEI_PER_EB = 10n ** 18n;
/** Genesis supply: 1,000,000,000 EB. */
export const GENESIS_SUPPLY_EB = 1_000_000_000n;

/** The seed distribution, in percent of the genesis supply. */
export const SEED_DISTRIBUTION = { producers: 40n, operations: 30n, ecosystem: 20n, partnerships: 10n } as const;
export type SeedRole = keyof typeof SEED_DISTRIBUTION;

/** Consensus parameters; all are genesis config and later governable. */
export interface ConsensusParams {
  /** Target block time in milliseconds (default 5,000; sub-second allowed, minimum 50). */
  blockTimeMs: number;
  /** Epoch length in seconds (default 6.4 h = 23,040 s). */
  epochSeconds: number;
  /** Minimum validator stake in wei (default 32,000 EB). */
  minStake: bigint;
  /** Cap of the active validator set (default 1,000). */
  maxValidators: number;
  /** Block reward to the proposer in wei (default 2 EB). */
  blockReward: bigint;
  /** Offline slashing in basis points of stake per day (default 10 = 0.1 %). */
  offlineSlashBpsPerDay: number;
  /** Equivocation slashing in basis points (default 500 = 5 %) plus removal. */
  equivocationSlashBps: number;
  /** Unbonding period in seconds (default 7 days). */
  unbondingSeconds: number;
  /** Voting period of a governance proposal in seconds (default 7 days). */
  votingPeriodSeconds: number;
}

export interface GenesisValidator {
  /** 0x address of the validator's signing key. */
  address: string;
  /** Bonded stake in wei. */
  stake: bigint;
}

/** A parsed, validated genesis. */
export interface Genesis {
  chainId: bigint;
  /** Unix seconds of the genesis block. */
  timestamp: bigint;
  gasLimit: bigint;
  baseFeePerGas: bigint;
  /** Lower-case 0x address → balance in wei. */
  alloc: Map<string, bigint>;
  validators: GenesisValidator[];
  consensus: ConsensusParams;
}

/** The JSON form of the genesis file (numbers as decimal strings or 0x hex where large). */
export interface GenesisFile {
  chainId: number | string;
  timestamp?: number | string;
  gasLimit?: number | string;
  baseFeePerGas?: number | string;
  /** Explicit allocations: address → wei (decimal string or 0x hex). */
  alloc?: Record<string, string>;
  /** The seed distribution: role → address; expanded to the 40/30/20/10 % split of 1e9 EB. */
  seed?: Partial<Record<SeedRole, string>>;
  validators?: { address: string; stake: string }[];
  consensus?: Partial<Record<keyof ConsensusParams, number | string>>;
}

export const DEFAULT_CONSENSUS: Readonly<ConsensusParams> = Object.freeze({
  blockTimeMs: 5000,
  epochSeconds: 23_040,
  minStake: 32_000n * WEI_PER_EB,
  maxValidators: 1000,
  blockReward: 2n * WEI_PER_EB,
  offlineSlashBpsPerDay: 10,
  equivocationSlashBps: 500,
  unbondingSeconds: 7 * 24 * 3600,
  votingPeriodSeconds: 7 * 24 * 3600,
});

/** Default chain id of an EnergyMesh chain ("EM" = 0x454d). */
export const DEFAULT_CHAIN_ID = 0x454dn;
export const DEFAULT_GAS_LIMIT = 30_000_000n;
export const DEFAULT_BASE_FEE = 1_000_000_000n;

const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;

function invalid(field: string, message: string): EnergyMeshError {
  return new EnergyMeshError('CONFIG_INVALID', `genesis ${field}: ${message}`, { details: { field } });
}

function toBigInt(value: unknown, field: string): bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'string' && /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(value)) return BigInt(value);
  throw invalid(field, 'expected a non-negative integer (number, decimal string or 0x hex)');
}

function toAddress(value: unknown, field: string): string {
  if (typeof value !== 'string' || !ADDRESS_RE.test(value)) throw invalid(field, 'expected a 0x-prefixed 20-byte address');
  return value.toLowerCase();
}

function toSafeNumber(value: unknown, field: string, min: number): number {
  const n = toBigInt(value, field);
  if (n > BigInt(Number.MAX_SAFE_INTEGER) || Number(n) < min) throw invalid(field, `expected an integer ≥ ${min}`);
  return Number(n);
}

/** Splits the genesis supply per the seed distribution; returns role → wei. */
export function seedAllocation(): Record<SeedRole, bigint> {
  const total = GENESIS_SUPPLY_EB * WEI_PER_EB;
  return {
    producers: (total * SEED_DISTRIBUTION.producers) / 100n,
    operations: (total * SEED_DISTRIBUTION.operations) / 100n,
    ecosystem: (total * SEED_DISTRIBUTION.ecosystem) / 100n,
    partnerships: (total * SEED_DISTRIBUTION.partnerships) / 100n,
  };
}

/** Validates a genesis file (parsed JSON) and applies the defaults. */
export function parseGenesis(input: unknown): Genesis {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('(root)', 'expected an object');
  const file = input as Record<string, unknown>;
  const known = new Set(['chainId', 'timestamp', 'gasLimit', 'baseFeePerGas', 'alloc', 'seed', 'validators', 'consensus']);
  for (const key of Object.keys(file)) if (!known.has(key)) throw invalid(key, 'unknown field');

  const chainId = toBigInt(file.chainId ?? Number(DEFAULT_CHAIN_ID), 'chainId');
  if (chainId === 0n) throw invalid('chainId', 'must not be 0');
  const timestamp = toBigInt(file.timestamp ?? 0, 'timestamp');
  const gasLimit = toBigInt(file.gasLimit ?? Number(DEFAULT_GAS_LIMIT), 'gasLimit');
  if (gasLimit < 5000n) throw invalid('gasLimit', 'must be at least 5000');
  const baseFeePerGas = toBigInt(file.baseFeePerGas ?? Number(DEFAULT_BASE_FEE), 'baseFeePerGas');

  const alloc = new Map<string, bigint>();
  const add = (address: string, wei: bigint): void => {
    alloc.set(address, (alloc.get(address) ?? 0n) + wei);
  };

  if (file.seed !== undefined) {
    if (typeof file.seed !== 'object' || file.seed === null) throw invalid('seed', 'expected an object of role → address');
    const split = seedAllocation();
    const seed = file.seed as Record<string, unknown>;
    for (const key of Object.keys(seed)) if (!(key in split)) throw invalid(`seed.${key}`, 'unknown role');
    for (const role of Object.keys(split) as SeedRole[]) {
      if (seed[role] === undefined) throw invalid(`seed.${role}`, 'missing (all four roles are required)');
      add(toAddress(seed[role], `seed.${role}`), split[role]);
    }
  }
  if (file.alloc !== undefined) {
    if (typeof file.alloc !== 'object' || file.alloc === null) throw invalid('alloc', 'expected an object of address → wei');
    for (const [address, wei] of Object.entries(file.alloc as Record<string, unknown>)) {
      add(toAddress(address, `alloc.${address}`), toBigInt(wei, `alloc.${address}`));
    }
  }

  const consensus: ConsensusParams = { ...DEFAULT_CONSENSUS };
  if (file.consensus !== undefined) {
    if (typeof file.consensus !== 'object' || file.consensus === null) throw invalid('consensus', 'expected an object');
    for (const [key, value] of Object.entries(file.consensus as Record<string, unknown>)) {
      const field = `consensus.${key}`;
      switch (key) {
        case 'blockTimeMs': consensus.blockTimeMs = toSafeNumber(value, field, 50); break;
        case 'epochSeconds': consensus.epochSeconds = toSafeNumber(value, field, 1); break;
        case 'maxValidators': consensus.maxValidators = toSafeNumber(value, field, 1); break;
        case 'offlineSlashBpsPerDay': consensus.offlineSlashBpsPerDay = toSafeNumber(value, field, 0); break;
        case 'equivocationSlashBps': consensus.equivocationSlashBps = toSafeNumber(value, field, 0); break;
        case 'unbondingSeconds': consensus.unbondingSeconds = toSafeNumber(value, field, 0); break;
        case 'votingPeriodSeconds': consensus.votingPeriodSeconds = toSafeNumber(value, field, 1); break;
        case 'minStake': consensus.minStake = toBigInt(value, field); break;
        case 'blockReward': consensus.blockReward = toBigInt(value, field); break;
        default: throw invalid(field, 'unknown parameter');
      }
    }
  }

  const validators: GenesisValidator[] = [];
  if (file.validators !== undefined) {
    if (!Array.isArray(file.validators)) throw invalid('validators', 'expected an array');
    const seen = new Set<string>();
    file.validators.forEach((v: unknown, i: number) => {
      if (typeof v !== 'object' || v === null) throw invalid(`validators[${i}]`, 'expected an object');
      const rec = v as Record<string, unknown>;
      const address = toAddress(rec.address, `validators[${i}].address`);
      const stake = toBigInt(rec.stake, `validators[${i}].stake`);
      if (stake < consensus.minStake) throw invalid(`validators[${i}].stake`, 'below the minimum stake');
      if (seen.has(address)) throw invalid(`validators[${i}].address`, 'duplicate validator');
      seen.add(address);
      validators.push({ address, stake });
    });
    if (validators.length > consensus.maxValidators) throw invalid('validators', 'more than maxValidators');
  }

  return { chainId, timestamp, gasLimit, baseFeePerGas, alloc, validators, consensus };
}

/** The zero-config genesis of embedded mode: the seed roles and the single validator all at `address`. */
export function embeddedGenesis(address: string, overrides: Partial<GenesisFile> = {}): Genesis {
  return parseGenesis({
    chainId: Number(DEFAULT_CHAIN_ID),
    seed: { producers: address, operations: address, ecosystem: address, partnerships: address },
    validators: [{ address, stake: DEFAULT_CONSENSUS.minStake.toString() }],
    ...overrides,
  });
}
