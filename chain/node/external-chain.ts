/**
 * A connection to an external EVM network over JSON-RPC (our own nodes, Hyperledger Besu, Geth): checks
 * at connect time that the endpoint answers `eth_chainId` (and that it is the expected chain), then hands
 * out its URL to clients (ethers). Errors: unreachable → `CONNECTION_REFUSED` (retriable), no answer in
 * time → `TIMEOUT` (retriable), another chain or a non-JSON-RPC answer → `CONFIG_INVALID`.
 */
import { EnergyMeshError } from '../../core/errors.ts';

export interface ExternalChainOptions {
  url: string;
  /** When set, the endpoint must report this chain id. */
  expectedChainId?: bigint;
  timeoutMs?: number;
}

export class ExternalChain {
  private constructor(
    readonly url: string,
    readonly chainId: bigint,
    readonly clientVersion: string | undefined,
  ) {}

  static async connect(options: ExternalChainOptions): Promise<ExternalChain> {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new EnergyMeshError('CONFIG_INVALID', `not a URL: ${options.url}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new EnergyMeshError('CONFIG_INVALID', 'the external chain URL must be http(s)');
    const call = async (method: string): Promise<unknown> => {
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: [] }),
          signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
        });
      } catch (e) {
        const timedOut = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
        throw new EnergyMeshError(timedOut ? 'TIMEOUT' : 'CONNECTION_REFUSED', `${method} on ${url.origin} failed`, { retriable: true, cause: e });
      }
      let body: { result?: unknown; error?: { message?: string } };
      try {
        body = (await res.json()) as typeof body;
      } catch (e) {
        throw new EnergyMeshError('CONFIG_INVALID', `${url.origin} is not a JSON-RPC endpoint`, { cause: e });
      }
      if (body.error !== undefined) throw new EnergyMeshError('UNEXPECTED_RESPONSE', `${method}: ${body.error.message ?? 'error'}`);
      return body.result;
    };
    const raw = await call('eth_chainId');
    if (typeof raw !== 'string' || !/^0x[0-9a-fA-F]+$/.test(raw)) throw new EnergyMeshError('CONFIG_INVALID', `${url.origin} returned no chain id`);
    const chainId = BigInt(raw);
    if (options.expectedChainId !== undefined && chainId !== options.expectedChainId) {
      throw new EnergyMeshError('CONFIG_INVALID', `${url.origin} is chain ${chainId}, expected ${options.expectedChainId}`, {
        details: { chainId: chainId.toString(), expected: options.expectedChainId.toString() },
      });
    }
    let version: string | undefined;
    try {
      const v = await call('web3_clientVersion');
      version = typeof v === 'string' ? v : undefined;
    } catch {
      version = undefined; // optional method
    }
    return new ExternalChain(options.url, chainId, version);
  }
}
