/**
 * Deploys and wires the settlement suite (docs/settlement.md) from the committed artifacts.
 *
 * Every role is granted in the constructors to its final holder — the Multisig holds DEFAULT_ADMIN_ROLE,
 * PAUSER_ROLE and ORACLE_ADMIN_ROLE, the governance timelock PARAMETER_ROLE, the registry MINTER_ROLE and the
 * market MARKET_ROLE on the ledger — so the deployer never holds a role and there is nothing to renounce.
 * The addresses are predicted from the deployer's nonces (CREATE), and the transactions are sent at once
 * with explicit nonces and gas bounds (no estimation): the suite lands in a couple of blocks whatever the
 * block time.
 */
import { ContractFactory, getCreateAddress, type Signer, type TransactionRequest, type TransactionResponse } from 'ethers';
import { waitForReceipt } from './wait-receipt.ts';
import { EnergyMeshError } from '../../core/errors.ts';
import type { SettlementAddresses } from '../../plugins/settlement/settlement-api.ts';
import { loadArtifact, type ContractName } from './artifacts.ts';

export const TEAM_VESTING_SECONDS = 4 * 365 * 24 * 3600;

export interface McDistribution {
  /** 30 % of MC. */
  public: string;
  /** 20 %. */
  ecosystem: string;
  /** 15 %. */
  stakingRewards: string;
  /** 10 %. */
  partnerships: string;
  /** Beneficiary of the team's 25 %, vested linearly over 4 years from `vestingStart`. */
  teamBeneficiary: string;
}

export interface GovernanceOptions {
  /** Blocks between a proposal and the start of voting (default 1). */
  votingDelayBlocks?: number;
  /** Blocks of voting (default 17,280 = 1 day at 5 s). */
  votingPeriodBlocks?: number;
  /** Votes (MC wei) needed to propose (default 100,000 MC). */
  proposalThreshold?: bigint;
  /** Quorum, % of the supply (default 4). */
  quorumPercent?: number;
  /** Timelock delay in seconds (default 2 days). */
  timelockDelaySeconds?: number;
}

export interface DeploySettlementOptions {
  /** 300, 900 or 1800. */
  intervalSeconds: number;
  oracles: string[];
  oracleThreshold: number;
  multisigOwners: string[];
  multisigThreshold: number;
  /** REGISTRAR_ROLE on the MeterRegistry. */
  registrar: string;
  /** SETTLER_ROLE on the EnergyMarket. */
  settler: string;
  /** OPERATOR_ROLE on BalancingIncentives. */
  operator: string;
  /** UTILITY_ROLE on the ledger (records off-chain deficit payments). */
  utility: string;
  /** Default: everything to the deployer. */
  mcDistribution?: McDistribution;
  /** EB (wei) sent to the ledger's mint reserve. */
  reserveWei: bigint;
  /** Default 0: trading closes when delivery starts. */
  gateClosureSeconds?: number;
  /** Default 10. */
  baselineDays?: number;
  /** Receives market fees (default: the Multisig). */
  treasury?: string;
  /** Start of the team vesting, unix s (default: now — the latest block's timestamp or the clock, the later). */
  vestingStart?: number;
  governance?: GovernanceOptions;
}

interface PlannedDeployment {
  name: ContractName;
  args: unknown[];
  value?: bigint;
}

function invalid(message: string): EnergyMeshError {
  return new EnergyMeshError('INVALID_ARGUMENT', message);
}

function checkOptions(o: DeploySettlementOptions): void {
  if (![300, 900, 1800].includes(o.intervalSeconds)) throw invalid(`intervalSeconds must be 300, 900 or 1800, got ${o.intervalSeconds}`);
  if (!Number.isInteger(o.oracleThreshold) || o.oracleThreshold < 1 || o.oracleThreshold > o.oracles.length || o.oracles.length > 32) {
    throw invalid(`oracleThreshold ${o.oracleThreshold} of ${o.oracles.length} oracles`);
  }
  if (!Number.isInteger(o.multisigThreshold) || o.multisigThreshold < 1 || o.multisigThreshold > o.multisigOwners.length || o.multisigOwners.length > 20) {
    throw invalid(`multisigThreshold ${o.multisigThreshold} of ${o.multisigOwners.length} owners`);
  }
  if (o.reserveWei < 0n) throw invalid('reserveWei must not be negative');
}

/**
 * Deploys EnergyLedger, MeshCoin (+ the team's VestingWallet), TimelockController + MeshGovernor,
 * MeterRegistry, EnergyMarket, BalancingIncentives and the Multisig, wired as in docs/settlement.md.
 * Throws SETTLEMENT_REVERTED if a deployment fails.
 */
export async function deploySettlement(deployer: Signer, options: DeploySettlementOptions): Promise<SettlementAddresses> {
  checkOptions(options);
  const provider = deployer.provider;
  if (provider === null) throw invalid('the deployer signer must be connected to a provider');
  const from = await deployer.getAddress();
  const nonce0 = await deployer.getNonce('pending');
  const at = (i: number): string => getCreateAddress({ from, nonce: nonce0 + i });
  const a = {
    multisig: at(0),
    teamVesting: at(1),
    meshCoin: at(2),
    timelock: at(3),
    ledger: at(4),
    registry: at(5),
    market: at(6),
    incentives: at(7),
    governor: at(8),
  } satisfies SettlementAddresses;
  const dist = options.mcDistribution ?? { public: from, ecosystem: from, stakingRewards: from, partnerships: from, teamBeneficiary: from };
  // the latest block may still be the genesis (timestamp 0) right after a node starts: never before now
  const latest = await provider.getBlock('latest');
  const vestingStart = options.vestingStart ?? Math.max(latest?.timestamp ?? 0, Math.floor(Date.now() / 1000));
  const gov = options.governance ?? {};
  const ZERO = '0x0000000000000000000000000000000000000000';
  const plan: PlannedDeployment[] = [
    { name: 'Multisig', args: [options.multisigOwners, options.multisigThreshold] },
    { name: 'VestingWallet', args: [dist.teamBeneficiary, vestingStart, TEAM_VESTING_SECONDS] },
    { name: 'MeshCoin', args: [dist.public, a.teamVesting, dist.ecosystem, dist.stakingRewards, dist.partnerships] },
    { name: 'TimelockController', args: [gov.timelockDelaySeconds ?? 2 * 24 * 3600, [a.governor], [ZERO], ZERO] },
    { name: 'EnergyLedger', args: [a.multisig, a.registry, a.market, options.utility], value: options.reserveWei },
    { name: 'MeterRegistry', args: [a.multisig, options.registrar, a.ledger, options.intervalSeconds, options.oracles, options.oracleThreshold] },
    {
      name: 'EnergyMarket',
      args: [a.multisig, options.settler, a.timelock, a.meshCoin, a.ledger, options.intervalSeconds, options.treasury ?? a.multisig, options.gateClosureSeconds ?? 0],
    },
    { name: 'BalancingIncentives', args: [a.multisig, options.operator, a.timelock, a.registry, a.ledger, options.intervalSeconds, options.baselineDays ?? 10] },
    {
      name: 'MeshGovernor',
      args: [a.meshCoin, a.timelock, gov.votingDelayBlocks ?? 1, gov.votingPeriodBlocks ?? 17_280, gov.proposalThreshold ?? 100_000n * 10n ** 18n, gov.quorumPercent ?? 4],
    },
  ];
  const requests: TransactionRequest[] = [];
  for (const [i, p] of plan.entries()) {
    const artifact = loadArtifact(p.name);
    const factory = new ContractFactory(artifact.abi as never[], artifact.bytecode);
    const tx = await factory.getDeployTransaction(...p.args, { value: p.value ?? 0n });
    requests.push({ data: tx.data, value: p.value ?? 0n, nonce: nonce0 + i, gasLimit: creationGasBound(tx.data, artifact.deployedBytecode) });
  }
  // All at once: the gas limits are upper bounds from the code sizes (no estimation round trips, and the
  // governor's constructor — which reads the token's clock — needs no MeshCoin before it is estimated).
  const sent: TransactionResponse[] = [];
  for (const r of requests) sent.push(await deployer.sendTransaction(r));
  for (const [i, tx] of sent.entries()) await waitOk(tx, plan[i]!.name);
  return a;
}

/**
 * An upper bound of a creation's gas: intrinsic + calldata (16/byte) + code deposit (200/byte) + 1.5 M for
 * the constructor (ours write at most a few dozen slots). Unused gas is not charged.
 */
function creationGasBound(data: string, deployedBytecode: string): bigint {
  const dataBytes = BigInt((data.length - 2) / 2);
  const codeBytes = BigInt((deployedBytecode.length - 2) / 2);
  return 53_000n + 16n * dataBytes + 200n * codeBytes + 1_500_000n;
}

async function waitOk(tx: TransactionResponse, name: string): Promise<void> {
  const receipt = await waitForReceipt(tx);
  if (receipt.status !== 1) {
    throw new EnergyMeshError('SETTLEMENT_REVERTED', `deployment of ${name} failed`, { details: { hash: tx.hash } });
  }
}
