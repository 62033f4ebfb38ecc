/**
 * What the settlement plugin offers the oracle, market and dispatch plugins through the core service
 * registry (`CoreServices.services.get(SettlementServiceKey)`; list `settlement.contracts` in `dependsOn`).
 * The contracts are described in docs/settlement.md; their typed clients live in chain/contracts/client.ts.
 */
import type { JsonRpcProvider, Signer, Wallet } from 'ethers';
import { serviceKey } from '../../core/plugin-api.ts';

/** Addresses of the deployed suite (docs/settlement.md). */
export interface SettlementAddresses {
  ledger: string;
  meshCoin: string;
  teamVesting: string;
  timelock: string;
  governor: string;
  registry: string;
  market: string;
  incentives: string;
  multisig: string;
}

export interface SettlementService {
  readonly chainId: bigint;
  readonly addresses: SettlementAddresses;
  /** Settlement interval length in seconds (300, 900 or 1800), fixed in the MeterRegistry at deploy. */
  readonly intervalSeconds: number;
  /** The shared JSON-RPC provider of the chain connector. */
  provider(): JsonRpcProvider;
  /** This instance's funded transaction sender (nonces managed; holds SETTLER_ROLE and REGISTRAR_ROLE). */
  submitter(): Signer;
  /** The grid operator's signer (OPERATOR_ROLE on BalancingIncentives). */
  operator(): Signer;
  /** The oracle keys this instance holds (k of the n registered), unconnected: they only sign batches. */
  oracleWallets(): readonly Wallet[];
  /** The k of the k-of-n oracle set. */
  readonly oracleThreshold: number;
  /**
   * A named account this instance manages (demo and embedded mode: the simulated households' wallets),
   * created on first use in the plugin's keystore folder and funded with EB for gas (and MC for bids in
   * the demo). Never returns another instance's keys.
   */
  account(name: string): Promise<Signer>;
  /** The pseudonymous bytes32 meter id of a device (docs/settlement.md, "Units and time"). */
  meterId(deviceId: string): string;
}

export const SettlementServiceKey = serviceKey<SettlementService>('settlement', 'settlement.contracts');
