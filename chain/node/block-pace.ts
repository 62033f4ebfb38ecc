/**
 * The block pace of a node: how long it waits between blocks. It follows the staking system contract's
 * governed `blockTimeMs` (changed by stake-weighted governance, `energymesh chain propose blockTimeMs …`),
 * read from the head state after each committed block (one storage-slot read), so every node of a network
 * moves to the new pace at the block that executed the proposal. Pacing is local (a block's validity never
 * depends on it); the epoch length in blocks, which IS consensus-critical, stays a function of the genesis
 * alone (`genesisEpochBlocks` in `consensus/schedule.ts`).
 *
 * A node option (`blockTimeMs`) overrides the governed value locally — for tests and benchmarks only.
 */
import { bytesToBigInt } from '@ethereumjs/util';
import type { Chain } from '../execution/chain.ts';
import { STAKING_ADDRESS } from '../system/system-contract.ts';

/**
 * Storage slot of `Params.blockTimeMs` in EmposStaking (slot 0: `initialized`; the `Params` struct from
 * slot 1: blockTimeMs, minBaseFee, …; see `MIN_BASE_FEE_SLOT` in system-contract.ts). `block-pace.spec.ts`
 * checks it against the contract's `params()`.
 */
export const BLOCK_TIME_MS_SLOT = 1n;

const SLOT_KEY = Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? Number(BLOCK_TIME_MS_SLOT) : 0));

/** The governed block time in the state of `blockNumber` (default head); undefined without the contract. */
export async function governedBlockTimeMs(chain: Chain, blockNumber?: bigint): Promise<number | undefined> {
  const v = bytesToBigInt(await chain.getStorageAt(STAKING_ADDRESS, SLOT_KEY, blockNumber));
  return v === 0n || v > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(v);
}

/** Where the pace a node uses comes from. */
export type PaceSource = 'override' | 'governed' | 'genesis';

/**
 * The pace of one node: the local override if any, else the governed value of the newest head it read
 * (`refresh` after each commit), else the genesis block time.
 */
export class BlockPace {
  private governed: number | undefined;

  constructor(
    private readonly genesisMs: number,
    private readonly overrideMs?: number,
  ) {}

  get ms(): number {
    return this.overrideMs ?? this.governed ?? this.genesisMs;
  }

  get source(): PaceSource {
    return this.overrideMs !== undefined ? 'override' : this.governed !== undefined ? 'governed' : 'genesis';
  }

  /** The governed value last read (whatever the override). */
  get governedMs(): number | undefined {
    return this.governed;
  }

  /** Re-reads the governed value from `blockNumber`'s state; true when the pace in force changed. */
  async refresh(chain: Chain, blockNumber: bigint): Promise<boolean> {
    const before = this.ms;
    try {
      this.governed = await governedBlockTimeMs(chain, blockNumber);
    } catch {
      // unreadable (no contract, store closing): keep the last value
    }
    return this.ms !== before;
  }
}
