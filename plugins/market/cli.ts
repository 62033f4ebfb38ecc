/**
 * `energymesh market …` — the market's CLI, an API client like `energymesh compliance` (--url, --token or
 * $ENERGYMESH_TOKEN; without --url the API address comes from --config). `market verify --rpc URL --market
 * ADDRESS` needs no EnergyMesh at all: it reads the interval's events from any JSON-RPC endpoint and
 * recomputes the clearing itself.
 *
 *   energymesh market order --account A --side sell|buy --amount-wh N (--price-mc 0.25 | --price WEI) [--interval N]
 *   energymesh market cancel ORDER_ID
 *   energymesh market orders [--interval N] [--account A] [--json]
 *   energymesh market results [--interval N] [--limit N] [--json]
 *   energymesh market verify --interval N [--rpc URL --market ADDRESS [--from-block N]] [--json]
 *
 * Exit codes: 0 done (verify: the settlement equals the recomputation), 1 refused or failed (verify: a
 * difference, or not settled), 2 usage.
 */
import { join } from 'node:path';
import { JsonRpcProvider } from 'ethers';
import type { Command } from 'commander';
import type { CliIo } from '../../core/plugin-api.ts';
import { callApi } from '../../core/cli/api-client.ts';
import { errorMessage } from '../../core/errors.ts';
import { PACKAGE_ROOT } from '../../core/paths.ts';
import { EthersMarketChain } from './market-chain.ts';
import { verifyInterval, type Verification } from './recompute.ts';

export type { CliIo };

interface RemoteOptions {
  config: string;
  url?: string;
  token?: string;
  json?: boolean;
}

const API = '/api/v1/plugins/market.p2p';
const MC = 10n ** 18n;

/** MC wei as a decimal MC string (trailing zeros trimmed). */
export function formatMc(wei: string | bigint): string {
  const v = BigInt(wei);
  const whole = v / MC;
  const frac = (v % MC).toString().padStart(18, '0').replace(/0+$/, '');
  return frac === '' ? whole.toString() : `${whole}.${frac}`;
}

interface OrderRow {
  orderId: string;
  interval: string;
  side: string;
  amountWh: string;
  limitPrice: string;
  status: string;
  filledWh?: string;
  account?: string;
  source?: string;
}

interface ResultRow {
  interval: string;
  settled?: boolean;
  deliveryStart?: string;
  price?: string;
  volumeWh?: string;
  fills?: { orderId: string; side: string; amountWh: string; mcAmount: string }[];
  txHash?: string;
}

function printVerification(v: { interval: string; ok: boolean; settled: boolean; problems: string[]; expected: { price: string; volumeWh: string; fills: unknown[] }; orders: unknown[] }, io: CliIo): number {
  if (v.ok) {
    io.out(`interval ${v.interval}: OK — ${v.orders.length} orders recomputed: price ${formatMc(v.expected.price)} MC/kWh, ${v.expected.volumeWh} Wh, ${v.expected.fills.length} fills, equal to the settlement`);
    return 0;
  }
  io.err(`interval ${v.interval}: ${v.settled ? 'MISMATCH' : 'NOT SETTLED'} (${v.orders.length} orders; recomputed price ${formatMc(v.expected.price)} MC/kWh, ${v.expected.volumeWh} Wh)`);
  for (const p of v.problems) io.err(`  ${p}`);
  return 1;
}

function verificationJson(v: Verification): { interval: string; ok: boolean; settled: boolean; problems: string[]; expected: { price: string; volumeWh: string; fills: { orderId: string; amountWh: string }[] }; orders: unknown[] } {
  return {
    interval: v.interval.toString(),
    ok: v.ok,
    settled: v.settled,
    problems: v.problems,
    expected: { price: v.expected.price.toString(), volumeWh: v.expected.volumeWh.toString(), fills: v.expected.fills.map((f) => ({ orderId: f.orderId.toString(), amountWh: f.amountWh.toString() })) },
    orders: v.orders.map((o) => ({ id: o.id.toString(), side: o.side, amountWh: o.amountWh.toString(), limitPrice: o.limitPrice.toString() })),
  };
}

/** Verifies from a JSON-RPC endpoint directly (no EnergyMesh needed). */
export async function verifyFromRpc(rpc: string, market: string, interval: bigint, fromBlock = 0): Promise<Verification> {
  const provider = new JsonRpcProvider(rpc, undefined, { batchMaxCount: 1, cacheTimeout: -1 });
  try {
    const probe = new EthersMarketChain({ provider, address: market, meshCoin: market, intervalSeconds: 1, fromBlock });
    await probe.sync();
    return verifyInterval(probe.intervalEvents(interval));
  } finally {
    provider.destroy();
  }
}

/**
 * Adds `market order|cancel|orders|results|verify` to `program`. `setExit` receives each command's exit
 * code (the core CLI's `exitCode`). Registration in core/cli/main.ts:
 * `registerMarketCommands(program, io, (c) => (exitCode = c));`
 */
export function registerMarketCommands(program: Command, io: CliIo, setExit: (code: number) => void): Command {
  const market = program.command('market').description('the P2P market of a running instance (through its API: --url, --token or ENERGYMESH_TOKEN)');
  const remote = (c: Command): Command =>
    c
      .option('-c, --config <file>', 'config file (gives the API address)', process.env.ENERGYMESH_CONFIG ?? join(PACKAGE_ROOT, 'examples', 'demo', 'energymesh.yaml'))
      .option('--url <url>', 'API base URL (default: from the config)')
      .option('--token <token>', 'API token (default: $ENERGYMESH_TOKEN)', process.env.ENERGYMESH_TOKEN)
      .option('--json', 'machine-readable output');

  remote(
    market
      .command('order')
      .description('place an order for one of the instance\'s accounts (operator role)')
      .requiredOption('--account <name>', 'managed account (configured under market.p2p accounts)')
      .requiredOption('--side <side>', 'sell | buy')
      .requiredOption('--amount-wh <wh>', 'energy in Wh')
      .option('--price-mc <mc>', 'limit price in MC per kWh, e.g. 0.25')
      .option('--price <wei>', 'limit price in MC wei per kWh')
      .option('--interval <n>', 'settlement interval index (default: the next open one)'),
  ).action(async (opts: RemoteOptions & { account: string; side: string; amountWh: string; priceMc?: string; price?: string; interval?: string }) => {
    if ((opts.priceMc === undefined) === (opts.price === undefined)) {
      io.err('energymesh: give exactly one of --price-mc and --price');
      setExit(2);
      return;
    }
    const body = {
      account: opts.account,
      side: opts.side,
      amountWh: opts.amountWh,
      ...(opts.priceMc !== undefined ? { limitPriceMc: opts.priceMc } : { limitPrice: opts.price }),
      ...(opts.interval !== undefined ? { interval: opts.interval } : {}),
    };
    const r = await callApi(opts, io, 'POST', `${API}/orders`, body);
    if (!r.ok) return setExit(1);
    const o = r.json as OrderRow & { complianceFlags?: string[]; txHash?: string };
    if (opts.json) io.out(JSON.stringify(o, null, 2));
    else io.out(`order ${o.orderId}: ${o.side} ${o.amountWh} Wh at ${formatMc(o.limitPrice)} MC/kWh in interval ${o.interval} (tx ${o.txHash ?? '?'})${o.complianceFlags?.length ? ` — flagged: ${o.complianceFlags.join(', ')}` : ''}`);
    setExit(0);
  });

  remote(market.command('cancel').argument('<orderId>', 'order id').description('cancel an order before its gate closes (operator role)')).action(async (orderId: string, opts: RemoteOptions) => {
    const r = await callApi(opts, io, 'DELETE', `${API}/orders/${encodeURIComponent(orderId)}`);
    if (!r.ok) return setExit(1);
    io.out(opts.json ? JSON.stringify(r.json, null, 2) : `order ${orderId} cancelled`);
    setExit(0);
  });

  remote(market.command('orders').description('orders on chain with status and fills').option('--interval <n>', 'one interval').option('--account <name>', 'one account').option('--limit <n>', 'at most this many', '100')).action(
    async (opts: RemoteOptions & { interval?: string; account?: string; limit: string }) => {
      const q = new URLSearchParams({ limit: opts.limit, ...(opts.interval ? { interval: opts.interval } : {}), ...(opts.account ? { account: opts.account } : {}) });
      const r = await callApi(opts, io, 'GET', `${API}/orders?${q.toString()}`);
      if (!r.ok) return setExit(1);
      const rows = r.json as OrderRow[];
      if (opts.json) io.out(JSON.stringify(rows, null, 2));
      else {
        io.out(`${'order'.padEnd(22)} ${'interval'.padEnd(10)} side ${'Wh'.padStart(10)} ${'MC/kWh'.padStart(12)} ${'status'.padEnd(16)} ${'filled Wh'.padStart(10)}  account`);
        for (const o of rows) {
          io.out(`${o.orderId.padEnd(22)} ${o.interval.padEnd(10)} ${o.side.padEnd(4)} ${o.amountWh.padStart(10)} ${formatMc(o.limitPrice).padStart(12)} ${o.status.padEnd(16)} ${(o.filledWh ?? '-').padStart(10)}  ${o.account ?? '-'}`);
        }
      }
      setExit(0);
    },
  );

  remote(market.command('results').description('settled intervals (newest first), or one interval').option('--interval <n>', 'one interval with its fills').option('--limit <n>', 'how many', '20')).action(
    async (opts: RemoteOptions & { interval?: string; limit: string }) => {
      const r = await callApi(opts, io, 'GET', opts.interval ? `${API}/results/${encodeURIComponent(opts.interval)}` : `${API}/results?limit=${encodeURIComponent(opts.limit)}`);
      if (!r.ok) return setExit(1);
      if (opts.json) {
        io.out(JSON.stringify(r.json, null, 2));
        return setExit(0);
      }
      const rows = (Array.isArray(r.json) ? r.json : [r.json]) as ResultRow[];
      for (const x of rows) {
        if (x.settled === false) {
          io.out(`interval ${x.interval}: not settled`);
          continue;
        }
        io.out(`interval ${x.interval} (${x.deliveryStart ?? ''}): price ${formatMc(x.price ?? '0')} MC/kWh, ${x.volumeWh} Wh, ${x.fills?.length ?? 0} fills, tx ${x.txHash ?? '?'}`);
        if (opts.interval) for (const f of x.fills ?? []) io.out(`  order ${f.orderId} ${f.side} ${f.amountWh} Wh  ${formatMc(f.mcAmount)} MC`);
      }
      setExit(0);
    },
  );

  remote(
    market
      .command('verify')
      .description('recompute an interval from its on-chain orders and compare with its settlement (exit 1 on any difference)')
      .requiredOption('--interval <n>', 'interval index')
      .option('--rpc <url>', 'read the chain directly from this JSON-RPC endpoint (no EnergyMesh needed)')
      .option('--market <address>', 'EnergyMarket address (with --rpc)')
      .option('--from-block <n>', 'first block to scan (with --rpc)', '0'),
  ).action(async (opts: RemoteOptions & { interval: string; rpc?: string; market?: string; fromBlock: string }) => {
    if (!/^(0|[1-9][0-9]{0,19})$/.test(opts.interval)) {
      io.err('energymesh: --interval must be a non-negative integer');
      return setExit(2);
    }
    if (opts.rpc !== undefined) {
      if (opts.market === undefined || !/^0x[0-9a-fA-F]{40}$/.test(opts.market)) {
        io.err('energymesh: --rpc needs --market <EnergyMarket address>');
        return setExit(2);
      }
      try {
        const v = verificationJson(await verifyFromRpc(opts.rpc, opts.market, BigInt(opts.interval), Number(opts.fromBlock)));
        if (opts.json) io.out(JSON.stringify(v, null, 2));
        return setExit(opts.json ? (v.ok ? 0 : 1) : printVerification(v, io));
      } catch (e) {
        io.err(`energymesh: ${errorMessage(e)}`);
        return setExit(1);
      }
    }
    const r = await callApi(opts, io, 'GET', `${API}/verify/${encodeURIComponent(opts.interval)}`);
    if (!r.ok) return setExit(1);
    const v = r.json as Parameters<typeof printVerification>[0];
    if (opts.json) {
      io.out(JSON.stringify(v, null, 2));
      return setExit(v.ok ? 0 : 1);
    }
    setExit(printVerification(v, io));
  });
  return market;
}
