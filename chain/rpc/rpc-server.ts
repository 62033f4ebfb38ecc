/**
 * The JSON-RPC endpoint of a node: HTTP POST and WebSocket on the same port (like geth's `--http` and
 * `--ws` on one listener). Limits: request body / WebSocket message size (`maxBodyBytes`, default 5 MiB →
 * HTTP 413 / close 1009), batch length (`maxBatch`, default 1,000 → -32005), subscriptions per connection
 * (default 100), and a slow WebSocket consumer (more than 16 MiB buffered) is disconnected.
 * Error policy: every malformed input gets a JSON-RPC error (-32700/-32600/-32602...), never a crash;
 * an unexpected exception in a handler becomes -32603 and is reported through `onError`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { matchLogs } from '../execution/chain.ts';
import type { Disposable } from '../execution/emitter.ts';
import type { EthApi, RpcBackend } from './eth-api.ts';
import { formatHeader, formatLog } from './format.ts';
import {
  errorResponse,
  RpcError,
  RpcErrorCode,
  validateRequest,
  type JsonRpcId,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from './json-rpc.ts';
import { positional, invalidParams } from './params.ts';

export interface RpcServerOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  maxBatch: number;
  maxSubscriptionsPerConnection: number;
  /** Called with unexpected handler errors (they are answered with -32603). */
  onError?: (e: unknown) => void;
}

const DEFAULTS: RpcServerOptions = { host: '127.0.0.1', port: 0, maxBodyBytes: 5 * 1024 * 1024, maxBatch: 1000, maxSubscriptionsPerConnection: 100 };
const MAX_WS_BUFFERED = 16 * 1024 * 1024;

/** A connection's context: WebSocket connections can subscribe. */
interface Connection {
  subscribe?(kind: unknown, filter: unknown): Promise<string>;
  unsubscribe?(id: unknown): boolean;
}

export class RpcServer {
  private readonly options: RpcServerOptions;
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<Socket>();
  private readonly connections = new Set<WebSocket>();
  private address: AddressInfo | undefined;
  private nextSubscription = 1;

  constructor(
    private readonly api: EthApi,
    private readonly backend: RpcBackend,
    options: Partial<RpcServerOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.server = createServer((req, res) => void this.onHttp(req, res));
    // Requests may wait behind a block being executed: keep idle connections longer than Node's 5 s so a
    // client reusing one never races the server closing it.
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.options.maxBodyBytes });
    this.server.on('upgrade', (req, socket, head) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onWebSocket(ws));
    });
  }

  /** Starts listening; resolves with the HTTP URL. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.address = this.server.address() as AddressInfo;
    return this.url;
  }

  get url(): string {
    if (this.address === undefined) throw new RpcError(RpcErrorCode.INTERNAL, 'not listening');
    return `http://${this.options.host}:${this.address.port}`;
  }

  get wsUrl(): string {
    return this.url.replace(/^http/, 'ws');
  }

  async close(): Promise<void> {
    for (const ws of this.connections) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  // ---------------------------------------------------------------------------------------------

  private async onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('Access-Control-Allow-Origin', '*');
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'content-type');
      res.writeHead(204).end();
      return;
    }
    if (req.method !== 'POST') {
      this.send(res, 405, errorResponse(null, new RpcError(RpcErrorCode.INVALID_REQUEST, 'method not allowed: use POST')));
      return;
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.options.maxBodyBytes) {
      this.tooLarge(res);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let aborted = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > this.options.maxBodyBytes && !aborted) {
        aborted = true;
        this.tooLarge(res);
      }
      if (!aborted) chunks.push(c);
    });
    await new Promise<void>((resolve) => {
      req.once('end', resolve);
      req.once('error', resolve);
      req.once('close', resolve);
    });
    if (aborted || res.writableEnded) return;
    const body = await this.handleText(Buffer.concat(chunks).toString('utf8'), {});
    if (body === undefined) res.writeHead(204).end();
    else this.send(res, 200, body);
  }

  private tooLarge(res: ServerResponse): void {
    res.setHeader('Connection', 'close');
    this.send(res, 413, errorResponse(null, new RpcError(RpcErrorCode.INVALID_REQUEST, `request body too large (max ${this.options.maxBodyBytes} bytes)`)));
  }

  private send(res: ServerResponse, status: number, body: JsonRpcResponse | JsonRpcResponse[]): void {
    if (res.writableEnded) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** Handles one message (single or batch); undefined when nothing is to be answered (notifications). */
  async handleText(text: string, conn: Connection): Promise<JsonRpcResponse | JsonRpcResponse[] | undefined> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return errorResponse(null, new RpcError(RpcErrorCode.PARSE_ERROR, 'parse error'));
    }
    if (Array.isArray(parsed)) {
      if (parsed.length === 0) return errorResponse(null, new RpcError(RpcErrorCode.INVALID_REQUEST, 'empty batch'));
      if (parsed.length > this.options.maxBatch) {
        return errorResponse(null, new RpcError(RpcErrorCode.LIMIT_EXCEEDED, `batch too large (max ${this.options.maxBatch})`));
      }
      // Started together (JSON-RPC 2.0 allows a batch to run as concurrent tasks): a batch of raw
      // transactions has its senders recovered in one worker message; the chain still admits them in
      // batch order (one lock, taken in call order) and the answers keep the batch's order.
      const answers = await Promise.all(parsed.map((item) => this.handleOne(item, conn)));
      const out = answers.filter((r): r is JsonRpcResponse => r !== undefined);
      return out.length === 0 ? undefined : out;
    }
    return this.handleOne(parsed, conn);
  }

  private async handleOne(item: unknown, conn: Connection): Promise<JsonRpcResponse | undefined> {
    const req = validateRequest(item);
    if (req instanceof RpcError) {
      const id = typeof item === 'object' && item !== null && 'id' in item ? (item as { id: unknown }).id : null;
      return errorResponse(typeof id === 'string' || typeof id === 'number' ? id : null, req);
    }
    const id: JsonRpcId = req.id ?? null;
    try {
      const result = await this.dispatch(req, conn);
      return req.id === undefined ? undefined : { jsonrpc: '2.0', id, result: result ?? null };
    } catch (e) {
      const response = errorResponse(id, e);
      if ('error' in response && response.error.code === RpcErrorCode.INTERNAL) this.options.onError?.(e);
      return req.id === undefined ? undefined : response;
    }
  }

  private async dispatch(req: JsonRpcRequest, conn: Connection): Promise<unknown> {
    if (req.method === 'eth_subscribe') {
      if (conn.subscribe === undefined) throw new RpcError(RpcErrorCode.METHOD_NOT_FOUND, 'notifications not supported over HTTP: use WebSocket');
      const [kind, filter] = positional(req.params, 1, 2);
      return conn.subscribe(kind, filter);
    }
    if (req.method === 'eth_unsubscribe') {
      if (conn.unsubscribe === undefined) throw new RpcError(RpcErrorCode.METHOD_NOT_FOUND, 'notifications not supported over HTTP: use WebSocket');
      const [id] = positional(req.params, 1, 1);
      return conn.unsubscribe(id);
    }
    return this.api.call(req.method, req.params);
  }

  private onWebSocket(ws: WebSocket): void {
    this.connections.add(ws);
    const subs = new Map<string, Disposable>();
    const notify = (subscription: string, result: unknown): void => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > MAX_WS_BUFFERED) {
        ws.close(1008, 'slow consumer');
        return;
      }
      ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'eth_subscription', params: { subscription, result } }));
    };
    const conn: Connection = {
      subscribe: async (kind, filter) => {
        if (subs.size >= this.options.maxSubscriptionsPerConnection) throw new RpcError(RpcErrorCode.LIMIT_EXCEEDED, 'too many subscriptions');
        const id = `0x${(this.nextSubscription++).toString(16).padStart(32, '0')}`;
        if (kind === 'newHeads') {
          subs.set(id, this.backend.onDidCommitBlock(({ block }) => notify(id, formatHeader(block))));
        } else if (kind === 'logs') {
          const f = await this.api.parseLogFilter(filter, false);
          subs.set(
            id,
            this.backend.onDidCommitBlock(({ block, receipts }) => {
              for (const log of matchLogs(block, receipts, f.addresses, f.topics)) notify(id, formatLog(log));
            }),
          );
        } else if (kind === 'newPendingTransactions' || kind === 'syncing') {
          throw invalidParams(`subscription ${String(kind)} not supported`);
        } else {
          throw invalidParams(`unknown subscription type ${String(kind)}`);
        }
        return id;
      },
      unsubscribe: (id) => {
        if (typeof id !== 'string') throw invalidParams('subscription id: expected a string');
        const d = subs.get(id);
        d?.dispose();
        return subs.delete(id);
      },
    };
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        ws.send(JSON.stringify(errorResponse(null, new RpcError(RpcErrorCode.INVALID_REQUEST, 'binary frames are not JSON-RPC'))));
        return;
      }
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
      void this.handleText(text, conn).then((r) => {
        if (r !== undefined && ws.readyState === ws.OPEN) ws.send(JSON.stringify(r));
      });
    });
    ws.on('error', () => ws.terminate());
    ws.once('close', () => {
      for (const d of subs.values()) d.dispose();
      subs.clear();
      this.connections.delete(ws);
    });
  }
}
