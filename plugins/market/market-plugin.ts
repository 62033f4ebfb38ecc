/**
 * market.p2p — the P2P market service in the kernel: builds a MarketEngine over the EnergyMarket
 * contract the settlement plugin deployed (SettlementService), runs its loop every `loop.pollMs`, and
 * serves the API below `/api/v1/plugins/market.p2p/`:
 *
 *   POST   orders                 operator  place an order (order.schema.json) for a configured account
 *   DELETE orders/{orderId}       operator  cancel it before gate closure
 *   GET    orders?interval&account&limit   orders on chain with status and fills
 *   GET    intervals              the market clock: next open interval, gate closure, awaiting settlement
 *   GET    results?limit          settled intervals, newest first
 *   GET    results/{interval}     one interval's settlement (settled: false when not yet)
 *   GET    verify/{interval}      independent recomputation from the on-chain orders vs. the settlement
 *
 * Who may place orders: the operator role (or admin). Orders are placed from the instance's managed
 * accounts named in the config (`accounts`), never from an address in the request; a viewer token cannot
 * trade. Per-household tokens bound to one account are not offered yet.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inject, injectable, CoreServices, PluginContext, EnergyMeshError, errorMessage } from '../../core/plugin-api.ts';
import type { HttpRouter, HttpRoutesContribution, JsonSchema, LifecycleContribution } from '../../core/plugin-api.ts';
import { topicName } from '../../core/bus/bus.ts';
import { SettlementServiceKey } from '../settlement/settlement-api.ts';
import { UINT64_MAX } from './clearing.ts';
import type { DerPolicy } from './der-policy.ts';
import { EthersMarketChain } from './market-chain.ts';
import { MarketEngine, parseUint, type OrderInput } from './market-engine.ts';

export interface MarketPluginConfig {
  accounts?: string[];
  loop?: { enabled?: boolean; pollMs?: number };
  maxIntervalsAhead?: number;
  releaseBatch?: number;
  maxFillsPerSettlement?: number;
  referencePrice?: { currency: string; unitsPerMc: number };
  policies?: DerPolicy[];
}

/** The request schema of POST orders (order.schema.json without its $id, so every server may compile it). */
export function orderSchema(): JsonSchema {
  const file = fileURLToPath(new URL('./order.schema.json', import.meta.url));
  const { $id: _id, $schema: _schema, ...schema } = JSON.parse(readFileSync(file, 'utf8')) as JsonSchema;
  return schema;
}

/** bigint → decimal string, recursively (JSON has no bigint). */
export function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v)]));
  return value;
}

const intervalParam: JsonSchema = { type: 'object', required: ['interval'], properties: { interval: { type: 'string', pattern: '^(0|[1-9][0-9]{0,19})$' } } };

@injectable()
export class MarketPlugin implements LifecycleContribution, HttpRoutesContribution {
  private engineRef: MarketEngine | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    @inject(PluginContext) private readonly ctx: PluginContext<MarketPluginConfig>,
    @inject(CoreServices) private readonly core: CoreServices,
  ) {}

  /** The engine once started (tests). */
  get engine(): MarketEngine {
    if (this.engineRef === undefined) throw new EnergyMeshError('SERVICE_UNAVAILABLE', 'the market service is not running (see its health)');
    return this.engineRef;
  }

  async onStart(): Promise<void> {
    const config = this.ctx.config ?? {};
    const settlement = this.core.services.get(SettlementServiceKey);
    const chain = new EthersMarketChain({
      provider: settlement.provider(),
      address: settlement.addresses.market,
      meshCoin: settlement.addresses.meshCoin,
      intervalSeconds: settlement.intervalSeconds,
    });
    const topic = topicName(this.core.bus.prefix, 'settlements');
    this.engineRef = new MarketEngine({
      chain,
      settler: settlement.submitter(),
      account: (name) => settlement.account(name),
      accounts: config.accounts ?? [],
      checkTrade: (t) => this.core.checkTrade(t),
      latestValue: (d, p) => this.core.latestValue(d, p),
      publish: (result) => this.core.bus.publish(topic, [{ key: `interval-${result.interval}`, value: result }]),
      health: this.ctx.health,
      logger: this.ctx.logger,
      dataDir: this.ctx.dataDir,
      policies: config.policies ?? [],
      maxIntervalsAhead: config.maxIntervalsAhead ?? 96,
      releaseBatch: config.releaseBatch ?? 200,
      ...(config.maxFillsPerSettlement !== undefined ? { maxFillsPerSettlement: config.maxFillsPerSettlement } : {}),
      ...(config.referencePrice ? { referencePrice: config.referencePrice } : {}),
    });
    this.stopped = false;
    await chain.sync();
    this.ctx.logger.info({ market: settlement.addresses.market, intervalSeconds: settlement.intervalSeconds, topic }, 'market service started');
    if (config.loop?.enabled !== false) this.schedule(0);
  }

  async onStop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.engineRef?.idle().catch(() => undefined);
    this.engineRef = undefined;
  }

  private schedule(delay: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.ctx.guard('market loop', async () => {
        try {
          await this.engineRef?.tick();
        } finally {
          if (!this.stopped) this.schedule(this.ctx.config?.loop?.pollMs ?? 2000);
        }
      });
    }, delay);
  }

  registerRoutes(router: HttpRouter): void {
    router.route({
      method: 'POST',
      path: 'orders',
      role: 'operator',
      summary: 'Place a market order for a configured account (sell EB / buy EB for MC in one interval)',
      schema: { body: orderSchema() },
      handler: async (req) => jsonSafe(await this.engine.placeOrder(req.body as OrderInput, req.principal)),
    });
    router.route({
      method: 'DELETE',
      path: 'orders/:orderId',
      role: 'operator',
      summary: 'Cancel an order placed through this service, before its gate closes',
      schema: { params: { type: 'object', required: ['orderId'], properties: { orderId: { type: 'string', pattern: '^(0|[1-9][0-9]{0,19})$' } } } },
      handler: async (req) => this.engine.cancelOrder(String(req.params.orderId), req.principal),
    });
    router.route({
      method: 'GET',
      path: 'orders',
      summary: 'Orders on chain (newest interval first) with status and fills',
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            interval: { type: 'string', pattern: '^(0|[1-9][0-9]{0,19})$' },
            account: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
            limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
          },
        },
      },
      handler: async (req) => {
        const q = req.query as { interval?: string; account?: string; limit?: number };
        return this.engine.orders({
          ...(q.interval !== undefined ? { interval: parseUint(q.interval, 'interval', UINT64_MAX, 0n) } : {}),
          ...(q.account !== undefined ? { account: q.account } : {}),
          ...(q.limit !== undefined ? { limit: q.limit } : {}),
        });
      },
    });
    router.route({ method: 'GET', path: 'intervals', summary: 'The market clock and the settlement loop', handler: async () => this.engine.intervals() });
    router.route({
      method: 'GET',
      path: 'results',
      summary: 'Settled intervals, newest first',
      schema: { querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 20 } } } },
      handler: async (req) => this.engine.results((req.query as { limit?: number }).limit ?? 20),
    });
    router.route({
      method: 'GET',
      path: 'results/:interval',
      summary: "One interval's settlement",
      schema: { params: intervalParam },
      handler: async (req) => {
        const interval = parseUint(req.params.interval, 'interval', UINT64_MAX, 0n);
        const r = await this.engine.result(interval);
        return r === undefined ? { interval: interval.toString(), settled: false } : { settled: true, ...r };
      },
    });
    router.route({
      method: 'GET',
      path: 'verify/:interval',
      summary: 'Recompute an interval from its on-chain orders and compare with its settlement',
      schema: { params: intervalParam },
      handler: async (req) => {
        try {
          return jsonSafe(await this.engine.verify(parseUint(req.params.interval, 'interval', UINT64_MAX, 0n)));
        } catch (e) {
          throw new EnergyMeshError('INVALID_ARGUMENT', `cannot verify: ${errorMessage(e)}`, { cause: e });
        }
      },
    });
  }
}
