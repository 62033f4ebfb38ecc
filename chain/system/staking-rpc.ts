/**
 * `empos_*` JSON-RPC methods over the staking system contract (registered by `EthApi`):
 *
 * | method | params | result |
 * |---|---|---|
 * | `empos_validators` | `[block?]` | every validator: address, stake, status (active/inactive/removed), unbonding, pendingFees, slashed, offlineSeconds |
 * | `empos_activeValidators` | `[block?]` | the active set (address, stake), sorted by address |
 * | `empos_params` | `[block?]` | the governable parameters in force |
 * | `empos_slashings` | `[block?]` | slash records: validator, reason (offline/equivocation/governance), amount, fromBlock, toBlock, timestamp |
 * | `empos_proposals` | `[block?]` | governance proposals with tallies and state (open/executed/rejected/expired) |
 * | `empos_staking` | `[block?]` | totals: staked, active stake, unbonding, fees received/claimed, undistributed, burned; the offline clock: `offlineChargeCapSeconds` (most seconds one block charges an absentee), `chargeableSeconds` (Σ of the capped block intervals, the clock `offlineSeconds` counts on) |
 *
 * Quantities are 0x hex (wei or seconds) like every Ethereum quantity; `block` is a block parameter
 * (default `latest`).
 */
import type { Chain } from '../execution/chain.ts';
import { qty } from '../rpc/format.ts';
import * as p from '../rpc/params.ts';
import { activeValidators, offlineClock, proposals, slashRecords, stakingAccounting, stakingParams, validators } from './validator-registry.ts';

type Handler = (params: unknown) => Promise<unknown>;

/**
 * The handlers; `resolve` turns the optional block parameter into a block number (EthApi's rules, throws
 * `header not found` for an unknown block).
 */
export function stakingRpcMethods(chain: () => Chain, resolve: (blockParam: unknown) => Promise<bigint>): Record<string, Handler> {
  const at = async (params: unknown): Promise<bigint> => {
    const [b] = p.positional(params, 0, 1);
    return resolve(b ?? 'latest');
  };
  return {
    empos_validators: async (params) =>
      (await validators(chain(), await at(params))).map((v) => ({
        address: v.address,
        stake: qty(v.stake),
        status: v.status,
        unbonding: qty(v.unbonding),
        pendingFees: qty(v.pendingFees),
        slashed: qty(v.slashed),
        offlineSeconds: qty(v.offlineSeconds),
      })),
    empos_activeValidators: async (params) => (await activeValidators(chain(), await at(params))).map((v) => ({ address: v.address, stake: qty(v.stake) })),
    empos_params: async (params) => Object.fromEntries(Object.entries(await stakingParams(chain(), await at(params))).map(([k, v]) => [k, qty(v)])),
    empos_slashings: async (params) =>
      (await slashRecords(chain(), await at(params))).map((s) => ({
        validator: s.validator,
        reason: s.reason,
        amount: qty(s.amount),
        fromBlock: qty(s.fromBlock),
        toBlock: qty(s.toBlock),
        timestamp: qty(s.timestamp),
      })),
    empos_proposals: async (params) =>
      (await proposals(chain(), await at(params))).map((x) => ({
        id: qty(x.id),
        proposer: x.proposer,
        kind: x.kind,
        ...(x.param !== undefined ? { param: x.param } : {}),
        ...(x.target !== undefined ? { target: x.target } : {}),
        value: qty(x.value),
        createdAt: qty(x.createdAt),
        deadline: qty(x.deadline),
        yes: qty(x.yes),
        no: qty(x.no),
        state: x.state,
      })),
    empos_staking: async (params) => {
      const n = await at(params);
      const [totals, clock] = await Promise.all([stakingAccounting(chain(), n), offlineClock(chain(), n)]);
      return {
        ...Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, qty(v)])),
        offlineChargeCapSeconds: qty(clock.capSeconds),
        chargeableSeconds: qty(clock.chargeableSeconds),
      };
    },
  };
}
