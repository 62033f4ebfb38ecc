/**
 * `energymesh chain stake | unstake | withdraw | claim-fees | propose | propose-slash | vote` — signed
 * transactions to the EMPoS staking system contract (chain/system) through ethers v6 and any JSON-RPC
 * endpoint of the chain:
 *
 *   chain stake <EB>                  bond stake (a new validator needs the minimum stake, 32,000 EB by default)
 *   chain unstake <EB>                start unbonding (released after the unbonding period)
 *   chain withdraw                    pay out released unbonding stake
 *   chain claim-fees                  pay out the caller's share of the fees
 *   chain propose <param> <value>     governance: change a parameter (minStake in EB, others as integers)
 *   chain propose-slash <addr> <bps>  governance: slash a malicious validator (10,000 bps = 100 % + removal)
 *   chain vote <id> <yes|no>          vote on a proposal (active validators, weighted by stake)
 *
 * Every command takes `--rpc URL` (default http://127.0.0.1:8545) and `--key FILE` (an Ethereum V3
 * keystore; `--password-file F`, else the empty password). The key is never printed. Each prints one JSON
 * line: the transaction hash, block and status. A call the contract would refuse is not sent: it fails
 * with `SETTLEMENT_REVERTED` and the contract's reason (e.g. `EMPoS: stake below minimum`).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { Contract, JsonRpcProvider, parseUnits, Wallet, type ContractTransactionResponse } from 'ethers';
import { EnergyMeshError } from '../../core/errors.ts';
import { PARAMS, STAKING_ADDRESS, stakingAbi, type ParamName } from '../system/system-contract.ts';

export interface StakingTxOptions {
  rpc: string;
  key: string;
  passwordFile?: string;
}

export interface StakingTxResult {
  hash: string;
  blockNumber: number;
  status: 'success' | 'failed';
  from: string;
}

const DEFAULT_RPC = 'http://127.0.0.1:8545';

/** Parses an EB amount ("32000", "0.5") to wei. */
export function parseEb(value: string): bigint {
  if (!/^\d+(\.\d{1,18})?$/.test(value)) throw new EnergyMeshError('INVALID_ARGUMENT', `not an EB amount: ${value}`);
  return parseUnits(value, 18);
}

/** Parameter value from the command line: `minStake` in EB, every other parameter an integer. */
export function parseParamValue(param: ParamName, value: string): bigint {
  if (param === 'minStake') return parseEb(value);
  if (!/^\d+$/.test(value)) throw new EnergyMeshError('INVALID_ARGUMENT', `${param}: expected a non-negative integer`);
  return BigInt(value);
}

function paramOf(name: string): ParamName {
  if (!(name in PARAMS)) throw new EnergyMeshError('INVALID_ARGUMENT', `unknown parameter ${name} (one of ${Object.keys(PARAMS).join(', ')})`);
  return name as ParamName;
}

function revertReason(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const r = e as { reason?: unknown; shortMessage?: unknown; code?: unknown };
  if (typeof r.reason === 'string') return r.reason;
  if (r.code === 'CALL_EXCEPTION' && typeof r.shortMessage === 'string') return r.shortMessage;
  return undefined;
}

/**
 * Sends `method(args)` (with `value` wei) to the staking contract signed by the keystore's key, waits for
 * the receipt. Throws `SETTLEMENT_REVERTED` with the contract's reason when the call would revert,
 * `UNAUTHORIZED` for a wrong keystore password.
 */
export async function sendStakingTx(o: StakingTxOptions, method: string, args: unknown[] = [], value = 0n): Promise<StakingTxResult> {
  const password = o.passwordFile === undefined ? '' : readFileSync(o.passwordFile, 'utf8').replace(/\r?\n$/, '');
  let wallet: Wallet;
  try {
    const w = await Wallet.fromEncryptedJson(readFileSync(o.key, 'utf8'), password);
    wallet = new Wallet(w.privateKey);
  } catch (e) {
    throw new EnergyMeshError('UNAUTHORIZED', `cannot decrypt keystore ${o.key} (wrong password or corrupt file)`, { cause: e });
  }
  const provider = new JsonRpcProvider(o.rpc, undefined, { polling: true });
  provider.pollingInterval = 200;
  try {
    const signer = wallet.connect(provider);
    const contract = new Contract(STAKING_ADDRESS, stakingAbi, signer);
    const fn = contract.getFunction(method);
    let tx: ContractTransactionResponse;
    try {
      tx = await fn.send(...args, { value });
    } catch (e) {
      const reason = revertReason(e);
      if (reason !== undefined) throw new EnergyMeshError('SETTLEMENT_REVERTED', reason, { details: { method }, cause: e });
      throw e;
    }
    const receipt = await provider.waitForTransaction(tx.hash, 1, 120_000);
    if (receipt === null) throw new EnergyMeshError('TIMEOUT', `no receipt for ${tx.hash}`, { retriable: true });
    return { hash: tx.hash, blockNumber: receipt.blockNumber, status: receipt.status === 1 ? 'success' : 'failed', from: wallet.address.toLowerCase() };
  } finally {
    provider.destroy();
  }
}

export interface StakingCommandIo {
  out: (line: string) => void;
}

const stdout: StakingCommandIo = { out: (l) => process.stdout.write(`${l}\n`) };

/** Adds the staking subcommands to the `chain` command (commander 14). */
export function addStakingCommands(chain: Command, io: StakingCommandIo = stdout): Command {
  const common = (c: Command): Command =>
    c
      .option('--rpc <url>', 'JSON-RPC endpoint of the chain', DEFAULT_RPC)
      .requiredOption('--key <file>', 'Ethereum V3 keystore of the sending account')
      .option('--password-file <file>', 'file holding the keystore password (default: empty password)');
  const run = async (c: Command, method: string, args: unknown[], value = 0n): Promise<void> => {
    const o = c.opts<{ rpc: string; key: string; passwordFile?: string }>();
    const result = await sendStakingTx({ rpc: o.rpc, key: o.key, ...(o.passwordFile !== undefined ? { passwordFile: o.passwordFile } : {}) }, method, args, value);
    io.out(JSON.stringify({ method, ...result }));
    if (result.status !== 'success') throw new EnergyMeshError('SETTLEMENT_REVERTED', `${method} transaction ${result.hash} failed`);
  };

  common(chain.command('stake').argument('<amount>', 'EB to bond').description('bond stake in the staking contract (becomes an active validator at the minimum stake)')).action(
    async (amount: string, _o: unknown, c: Command) => run(c, 'stake', [], parseEb(amount)),
  );
  common(chain.command('unstake').argument('<amount>', 'EB to unbond').description('start unbonding stake (withdrawable after the unbonding period)')).action(
    async (amount: string, _o: unknown, c: Command) => run(c, 'unstake', [parseEb(amount)]),
  );
  common(chain.command('withdraw').description('pay out unbonded stake whose release time has come')).action(async (_o: unknown, c: Command) => run(c, 'withdraw', []));
  common(chain.command('claim-fees').description("pay out this validator's share of the fees")).action(async (_o: unknown, c: Command) => run(c, 'claimFees', []));
  common(
    chain
      .command('propose')
      .argument('<param>', `parameter: ${Object.keys(PARAMS).join(' | ')}`)
      .argument('<value>', 'new value (minStake in EB, others integers: ms, wei, bps, seconds, count)')
      .description('propose a parameter change (active validators only)'),
  ).action(async (param: string, value: string, _o: unknown, c: Command) => {
    const p = paramOf(param);
    await run(c, 'propose', [PARAMS[p], parseParamValue(p, value)]);
  });
  common(
    chain
      .command('propose-slash')
      .argument('<validator>', 'address of the malicious validator')
      .argument('<bps>', 'slash in basis points, 1..10000 (10000 = 100 % and removal)')
      .description('propose slashing a validator for malicious blocks (active validators only)'),
  ).action(async (validator: string, bps: string, _o: unknown, c: Command) => {
    if (!/^0x[0-9a-fA-F]{40}$/.test(validator)) throw new EnergyMeshError('INVALID_ARGUMENT', `not an address: ${validator}`);
    if (!/^\d+$/.test(bps)) throw new EnergyMeshError('INVALID_ARGUMENT', `bps: expected an integer`);
    await run(c, 'proposeSlash', [validator, BigInt(bps)]);
  });
  common(
    chain
      .command('vote')
      .argument('<id>', 'proposal id (empos_proposals)')
      .argument('<support>', 'yes | no')
      .description('vote on a governance proposal, weighted by your stake'),
  ).action(async (id: string, support: string, _o: unknown, c: Command) => {
    if (!/^\d+$/.test(id)) throw new EnergyMeshError('INVALID_ARGUMENT', `proposal id: expected an integer`);
    if (support !== 'yes' && support !== 'no') throw new EnergyMeshError('INVALID_ARGUMENT', 'support: yes or no');
    await run(c, 'vote', [BigInt(id), support === 'yes']);
  });
  return chain;
}
