/**
 * The Ethereum JSON-RPC methods (execution-apis) over a `Chain`: one handler per method, parameters
 * parsed by `params.ts`, results in the formats of `format.ts`. Subscriptions (eth_subscribe) are
 * transport-bound and live in `rpc-server.ts`; this module gives them the log filter and formats.
 */
import type { Block } from '@ethereumjs/block';
import { bytesToHex, hexToBytes, type PrefixedHexString } from '@ethereumjs/util';
import type { CallRequest, Chain, CommittedBlock, LogFilter } from '../execution/chain.ts';
import { revertMessage } from '../execution/chain.ts';
import type { Event } from '../execution/emitter.ts';
import { RpcError, RpcErrorCode } from './json-rpc.ts';
import { formatBlock, formatLog, formatReceipt, formatTx, qty, type Json } from './format.ts';
import * as p from './params.ts';
import { stakingRpcMethods } from '../system/staking-rpc.ts';

/** What the RPC layer needs from a node. */
export interface RpcBackend {
  readonly chain: Chain;
  readonly onDidCommitBlock: Event<CommittedBlock>;
  readonly clientVersion: string;
  /** Number of the newest finalized block. */
  finalizedNumber(): bigint;
  /** Extra namespaces (`empos_*`): method → handler of the positional params. */
  readonly extensions?: Readonly<Record<string, (params: unknown[]) => Promise<unknown> | unknown>>;
}

export interface EthApiOptions {
  /** Most blocks one eth_getLogs may scan (default 10,000). */
  maxLogBlockRange: bigint;
  /** Most logs one eth_getLogs may return (default 10,000). */
  maxLogResults: number;
  /** Suggested priority fee (default 1 gwei). */
  priorityFee: bigint;
}

const DEFAULTS: EthApiOptions = { maxLogBlockRange: 10_000n, maxLogResults: 10_000, priorityFee: 1_000_000_000n };

type Handler = (params: unknown) => Promise<unknown> | unknown;

export class EthApi {
  private readonly handlers = new Map<string, Handler>();
  private readonly options: EthApiOptions;

  constructor(
    private readonly backend: RpcBackend,
    options: Partial<EthApiOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.register();
  }

  private get chain(): Chain {
    return this.backend.chain;
  }

  has(method: string): boolean {
    return this.handlers.has(method) || this.backend.extensions?.[method] !== undefined;
  }

  async call(method: string, params: unknown): Promise<unknown> {
    const h = this.handlers.get(method);
    if (h !== undefined) return h(params);
    const ext = this.backend.extensions?.[method];
    if (ext !== undefined) return ext(p.positional(params, 0, 16));
    throw new RpcError(RpcErrorCode.METHOD_NOT_FOUND, `the method ${method} does not exist/is not available`);
  }

  /** Resolves a block parameter to a number (undefined when the hash or number is unknown). */
  async resolveBlock(ref: p.BlockRef): Promise<bigint | undefined> {
    const head = this.chain.head.header.number;
    if ('tag' in ref) {
      switch (ref.tag) {
        case 'earliest': return 0n;
        case 'finalized':
        case 'safe': return this.backend.finalizedNumber();
        default: return head;
      }
    }
    if ('number' in ref) return ref.number <= head ? ref.number : undefined;
    const block = await this.chain.getBlockByHash(hexToBytes(ref.hash as PrefixedHexString));
    return block?.header.number;
  }

  private async stateBlock(v: unknown): Promise<bigint> {
    const n = await this.resolveBlock(p.blockRef(v, 'block'));
    if (n === undefined) throw new RpcError(RpcErrorCode.SERVER, 'header not found');
    return n;
  }

  /** Parses an eth_getLogs / eth_subscribe("logs") filter object; block range optional. */
  async parseLogFilter(v: unknown, requireRange: boolean): Promise<Omit<LogFilter, 'fromBlock' | 'toBlock'> & Partial<LogFilter>> {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) throw p.invalidParams('filter: expected an object');
    const f = v as Record<string, unknown>;
    const out: Omit<LogFilter, 'fromBlock' | 'toBlock'> & Partial<LogFilter> = {};
    if (f.address !== undefined && f.address !== null) {
      out.addresses = Array.isArray(f.address) ? f.address.map((a, i) => p.address(a, `address[${i}]`)) : [p.address(f.address, 'address')];
    }
    if (f.topics !== undefined && f.topics !== null) {
      if (!Array.isArray(f.topics) || f.topics.length > 4) throw p.invalidParams('topics: expected an array of at most 4 entries');
      out.topics = f.topics.map((t, i) => {
        if (t === null) return null;
        if (Array.isArray(t)) return t.map((x, j) => p.hash(x, `topics[${i}][${j}]`));
        return [p.hash(t, `topics[${i}]`)];
      });
    }
    if (f.blockHash !== undefined) {
      if (f.fromBlock !== undefined || f.toBlock !== undefined) throw p.invalidParams('cannot specify both blockHash and fromBlock/toBlock');
      const n = await this.resolveBlock({ hash: p.hash(f.blockHash, 'blockHash') });
      if (n === undefined) throw new RpcError(RpcErrorCode.SERVER, 'unknown block');
      out.fromBlock = n;
      out.toBlock = n;
    } else if (requireRange) {
      const from = await this.resolveBlock(p.blockRef(f.fromBlock ?? 'latest', 'fromBlock'));
      const to = await this.resolveBlock(p.blockRef(f.toBlock ?? 'latest', 'toBlock'));
      const head = this.chain.head.header.number;
      out.fromBlock = from ?? head + 1n;
      out.toBlock = to ?? head;
      if (out.fromBlock > out.toBlock && from !== undefined && to !== undefined) throw p.invalidParams('invalid block range params');
    }
    return out;
  }

  private callRequest(v: unknown): CallRequest {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw p.invalidParams('transaction: expected an object');
    const o = v as Record<string, unknown>;
    const input = o.input ?? o.data;
    if (o.input !== undefined && o.data !== undefined && o.input !== o.data) throw p.invalidParams('both "data" and "input" are set and not equal');
    const req: CallRequest = {};
    if (o.from !== undefined && o.from !== null) req.from = p.address(o.from, 'from');
    if (o.to !== undefined && o.to !== null) req.to = p.address(o.to, 'to');
    if (input !== undefined && input !== null) req.data = p.data(input, 'input');
    const value = p.optionalQuantity(o.value, 'value');
    if (value !== undefined) req.value = value;
    const gas = p.optionalQuantity(o.gas, 'gas');
    if (gas !== undefined) req.gas = gas > this.chain.head.header.gasLimit ? this.chain.head.header.gasLimit : gas;
    return req;
  }

  private async blockJson(block: Block | undefined, full: boolean): Promise<Json | null> {
    if (block === undefined) return null;
    const receipts = full ? await this.chain.getReceipts(block.header.number) : [];
    return formatBlock(block, full, receipts.map((r) => r.from));
  }

  private register(): void {
    const h = (name: string, fn: Handler): void => {
      this.handlers.set(name, fn);
    };
    const chain = (): Chain => this.chain;

    // empos_validators, empos_params, empos_slashings, empos_proposals... from the staking system contract
    // (take precedence over the node's extensions of the same name).
    for (const [name, fn] of Object.entries(stakingRpcMethods(chain, (b) => this.stateBlock(b)))) h(name, fn);
    h('web3_clientVersion', () => this.backend.clientVersion);
    h('web3_sha3', async (params) => {
      const [d] = p.positional(params, 1, 1);
      const { keccak256 } = await import('../execution/crypto.ts');
      return bytesToHex(keccak256(hexToBytes(p.data(d, 'data') as PrefixedHexString)));
    });
    h('net_version', () => chain().chainId.toString());
    h('net_listening', () => true);
    h('net_peerCount', () => '0x0');
    h('eth_chainId', () => qty(chain().chainId));
    h('eth_syncing', () => false);
    h('eth_mining', () => false);
    h('eth_accounts', () => []);
    h('eth_blockNumber', () => qty(chain().head.header.number));
    h('eth_gasPrice', () => qty(chain().nextBaseFee() + this.options.priorityFee));
    h('eth_maxPriorityFeePerGas', () => qty(this.options.priorityFee));

    h('eth_getBalance', async (params) => {
      const [a, b] = p.positional(params, 1, 2);
      return qty((await chain().getAccount(p.address(a, 'address'), await this.stateBlock(b))).balance);
    });
    h('eth_getTransactionCount', async (params) => {
      const [a, b] = p.positional(params, 1, 2);
      const address = p.address(a, 'address');
      const ref = p.blockRef(b, 'block');
      if ('tag' in ref && ref.tag === 'pending') return qty(await chain().pendingNonce(address));
      return qty((await chain().getAccount(address, await this.stateBlock(b))).nonce);
    });
    h('eth_getCode', async (params) => {
      const [a, b] = p.positional(params, 1, 2);
      return bytesToHex(await chain().getCode(p.address(a, 'address'), await this.stateBlock(b)));
    });
    h('eth_getStorageAt', async (params) => {
      const [a, s, b] = p.positional(params, 2, 3);
      const slot = p.quantity(typeof s === 'string' ? s.replace(/^0x0+(?=[0-9a-fA-F])/, '0x') : s, 'slot');
      const key = hexToBytes(`0x${slot.toString(16).padStart(64, '0')}`);
      return bytesToHex(await chain().getStorageAt(p.address(a, 'address'), key, await this.stateBlock(b)));
    });

    h('eth_sendRawTransaction', async (params) => {
      const [raw] = p.positional(params, 1, 1);
      return chain().submitRawTransaction(hexToBytes(p.data(raw, 'data', 200 * 1024) as PrefixedHexString));
    });
    h('eth_call', async (params) => {
      const [tx, b] = p.positional(params, 1, 3);
      const req = this.callRequest(tx);
      const res = await chain().call(req, await this.stateBlock(b));
      if (res.error !== undefined) {
        if (res.error.message === 'execution reverted') {
          throw new RpcError(RpcErrorCode.EXECUTION_REVERTED, revertMessage(res.error.data), bytesToHex(res.error.data));
        }
        throw new RpcError(RpcErrorCode.SERVER, res.error.message);
      }
      return bytesToHex(res.returnValue);
    });
    h('eth_estimateGas', async (params) => {
      const [tx, b] = p.positional(params, 1, 3);
      const req = this.callRequest(tx);
      await this.stateBlock(b);
      return qty(await chain().estimateGas(req));
    });
    h('eth_feeHistory', async (params) => {
      const [c, newest, pct] = p.positional(params, 2, 3);
      let count = p.quantity(typeof c === 'number' ? qty(c) : c, 'blockCount');
      if (count > 1024n) count = 1024n;
      const last = await this.resolveBlock(p.blockRef(newest, 'newestBlock'));
      if (last === undefined) throw new RpcError(RpcErrorCode.SERVER, 'header not found');
      const percentiles = pct === undefined || pct === null ? undefined : parsePercentiles(pct);
      const first = last - count + 1n < 0n ? 0n : last - count + 1n;
      const baseFees: string[] = [];
      const ratios: number[] = [];
      const rewards: string[][] = [];
      let lastBlock: Block | undefined;
      for (let n = first; n <= last; n++) {
        const block = (await chain().getBlockByNumber(n))!;
        lastBlock = block;
        baseFees.push(qty(block.header.baseFeePerGas ?? 0n));
        ratios.push(Number(block.header.gasUsed) / Number(block.header.gasLimit));
        if (percentiles !== undefined) rewards.push(rewardPercentiles(block, await chain().getReceipts(n), percentiles));
      }
      baseFees.push(qty(lastBlock === undefined ? 0n : lastBlock.header.calcNextBaseFee()));
      const out: Json = {
        oldestBlock: qty(first),
        baseFeePerGas: baseFees,
        gasUsedRatio: ratios,
        baseFeePerBlobGas: baseFees.map(() => '0x0'),
        blobGasUsedRatio: ratios.map(() => 0),
      };
      if (percentiles !== undefined) out.reward = rewards;
      return out;
    });

    h('eth_getBlockByNumber', async (params) => {
      const [b, full] = p.positional(params, 1, 2);
      const n = await this.resolveBlock(p.blockRef(b, 'block'));
      return n === undefined ? null : this.blockJson(await chain().getBlockByNumber(n), p.bool(full, 'fullTransactions'));
    });
    h('eth_getBlockByHash', async (params) => {
      const [hh, full] = p.positional(params, 1, 2);
      return this.blockJson(await chain().getBlockByHash(hexToBytes(p.hash(hh, 'hash') as PrefixedHexString)), p.bool(full, 'fullTransactions'));
    });
    h('eth_getBlockTransactionCountByNumber', async (params) => {
      const [b] = p.positional(params, 1, 1);
      const n = await this.resolveBlock(p.blockRef(b, 'block'));
      const block = n === undefined ? undefined : await chain().getBlockByNumber(n);
      return block === undefined ? null : qty(block.transactions.length);
    });
    h('eth_getTransactionByHash', async (params) => {
      const [hh] = p.positional(params, 1, 1);
      const found = await chain().getTransaction(p.hash(hh, 'hash'));
      return found === undefined ? null : formatTx(found.tx, found.sender, found.block);
    });
    h('eth_getTransactionReceipt', async (params) => {
      const [hh] = p.positional(params, 1, 1);
      const found = await chain().getTransaction(p.hash(hh, 'hash'));
      if (found?.block === undefined) return null;
      const block = (await chain().getBlockByNumber(found.block.number))!;
      return formatReceipt(block, await chain().getReceipts(found.block.number), found.block.index);
    });
    h('eth_getLogs', async (params) => {
      const [f] = p.positional(params, 1, 1);
      const filter = await this.parseLogFilter(f, true);
      const from = filter.fromBlock!;
      const to = filter.toBlock!;
      if (to >= from && to - from + 1n > this.options.maxLogBlockRange) {
        throw new RpcError(RpcErrorCode.LIMIT_EXCEEDED, `block range too large (max ${this.options.maxLogBlockRange})`);
      }
      const logs = await chain().getLogs({ ...filter, fromBlock: from, toBlock: to });
      if (logs.length > this.options.maxLogResults) throw new RpcError(RpcErrorCode.LIMIT_EXCEEDED, `query returned more than ${this.options.maxLogResults} results`);
      return logs.map(formatLog);
    });
  }
}

function parsePercentiles(v: unknown): number[] {
  if (!Array.isArray(v) || v.length > 100) throw p.invalidParams('rewardPercentiles: expected an array of at most 100 numbers');
  let prev = -1;
  return v.map((x) => {
    if (typeof x !== 'number' || !(x >= 0 && x <= 100) || x < prev) throw p.invalidParams('rewardPercentiles: expected increasing numbers in [0, 100]');
    prev = x;
    return x;
  });
}

/** Gas-weighted percentiles of the effective priority fees in one block (as geth computes them). */
function rewardPercentiles(block: Block, receipts: readonly { gasUsed: string; effectiveGasPrice: string }[], percentiles: number[]): string[] {
  const baseFee = block.header.baseFeePerGas ?? 0n;
  const tips = receipts.map((r) => ({ tip: BigInt(r.effectiveGasPrice) - baseFee, gas: BigInt(r.gasUsed) })).sort((a, b) => (a.tip < b.tip ? -1 : a.tip > b.tip ? 1 : 0));
  if (tips.length === 0) return percentiles.map(() => '0x0');
  const total = Number(block.header.gasUsed);
  return percentiles.map((pc) => {
    const threshold = (total * pc) / 100;
    let acc = 0;
    for (const t of tips) {
      acc += Number(t.gas);
      if (acc >= threshold) return qty(t.tip);
    }
    return qty(tips[tips.length - 1]!.tip);
  });
}
