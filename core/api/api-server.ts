/**
 * The REST + WebSocket API (fastify). Request bodies, params and query strings are validated with
 * the same JSON Schemas (draft 2020-12) as the rest of EnergyMesh, and the OpenAPI 3.1 document at
 * `/api/v1/openapi.json` is generated from them. Errors have one shape:
 * `{ "error": { "code", "message", "details" } }`.
 *
 * Hostile input policy: bodies over `bodyLimitBytes` → 413, malformed JSON or schema violations →
 * 400 naming the field, unknown routes → 404; nothing a client sends can crash the process.
 */
import websocket from '@fastify/websocket';
import swagger from '@fastify/swagger';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { roleAllows } from '../auth/roles.ts';
import type { Principal, Role } from '../auth/roles.ts';
import type { TokenStore } from '../auth/token-store.ts';
import type { WebSocket } from 'ws';
import { bundleSchema, createSharedAjv, sharedSchema } from '../config/schema-registry.ts';
import type { JsonSchema } from '../config/json-schema.ts';
import type { ErrorCode } from '../errors.ts';
import { EnergyMeshError, isEnergyMeshError } from '../errors.ts';
import type { Kernel } from '../kernel.ts';
import { compliancePrincipal } from '../kernel.ts';
import { registerComplianceRoutes } from './compliance-routes.ts';
import type { Logger } from '../logging/logger.ts';
import type { CommandRequest, TelemetryRecord } from '../model/telemetry.ts';

export interface ApiServerOptions {
  host: string;
  port: number;
  bodyLimitBytes: number;
  logger: Logger;
  /** Largest amount of unsent data a WebSocket client may lag behind before records are skipped. */
  wsMaxBufferedBytes?: number;
  /** Bearer-token authentication; absent = every request is admin (isolated test benches only). */
  auth?: { tokens: TokenStore; anonymousRole: 'none' | 'viewer' };
  /** Told about every refused request (the audit log listens here). */
  onDenied?: (denial: { principal?: Principal; method: string; url: string; required: Role; reason: string }) => void;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Role a route requires (default viewer). */
    role?: Role;
  }
  interface FastifyRequest {
    principal: Principal;
  }
}

const ADMIN: Principal = Object.freeze({ id: 'local', name: 'auth disabled', role: 'admin' });
const ANONYMOUS_VIEWER: Principal = Object.freeze({ id: 'anonymous', name: 'anonymous', role: 'viewer' });

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  SCHEMA_VIOLATION: 400,
  UNKNOWN_DEVICE: 404,
  UNKNOWN_POINT: 404,
  PLUGIN_NOT_FOUND: 404,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  POINT_NOT_WRITABLE: 409,
  TIMEOUT: 504,
  COMPLIANCE_VIOLATION: 409,
};

const idParam: JsonSchema = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._:/-]*$' };
const errorSchema: JsonSchema = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } } } },
};

/** Builds the API for `kernel`; call `listen()` to serve it. */
export async function createApiServer(kernel: Kernel, options: ApiServerOptions): Promise<FastifyInstance> {
  const ajv = createSharedAjv();
  // query strings and path parameters arrive as text: coerce them to the schema's types
  const coercingAjv = createSharedAjv({ coerceTypes: true });
  const app = Fastify({
    loggerInstance: options.logger.child({ component: 'api' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes,
    routerOptions: { maxParamLength: 256 },
    return503OnClosing: true,
  });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? ajv : coercingAjv).compile(schema as JsonSchema));
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler((error: FastifyError | EnergyMeshError, _request, reply) => sendError(reply, error));
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: { code: 'INVALID_ARGUMENT', message: `no route ${request.method} ${request.url.split('?')[0]}`, details: {} } });
  });

  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (request, reply) => {
    const required = request.routeOptions.config?.role ?? 'viewer';
    const verdict = authenticate(request, options.auth);
    if ('principal' in verdict && roleAllows(verdict.principal.role, required)) {
      request.principal = verdict.principal;
      return;
    }
    const principal = 'principal' in verdict ? verdict.principal : undefined;
    const reason = 'principal' in verdict ? `role ${verdict.principal.role} may not do what needs ${required}` : verdict.reason;
    const status = principal ? 403 : 401;
    request.log.warn({ principal: principal?.id, method: request.method, url: request.url.split('?')[0], required, reason }, 'request refused');
    kernel.metrics.authDenied.inc({ reason: status === 401 ? 'unauthenticated' : 'forbidden' });
    options.onDenied?.({ ...(principal ? { principal } : {}), method: request.method, url: request.url.split('?')[0] ?? '', required, reason });
    try {
      kernel.compliance.recordAuthorizationFailure({
        principal: principal ? compliancePrincipal(principal) : { id: 'anonymous' },
        what: `${request.method} ${request.url.split('?')[0] ?? ''}`,
        reason,
        at: Date.now(),
      });
    } catch (e) {
      request.log.error({ err: (e as Error).message }, 'audit of a refused request failed');
    }
    if (status === 401) void reply.header('www-authenticate', 'Bearer realm="energymesh"');
    await reply.code(status).send({ error: { code: status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', message: reason, details: { required } } });
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'EnergyMesh API', version: '1', description: 'Devices, points, live values, commands and plugin health of an EnergyMesh instance. Send `Authorization: Bearer <token>`; each operation names the role it needs.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });

  const telemetryRecord = bundleSchema(sharedSchema('telemetry-record.schema.json'));
  const commandRequest = bundleSchema(sharedSchema('command.schema.json'));
  const commandResult = bundleSchema(sharedSchema('command-result.schema.json'));
  const point = bundleSchema(sharedSchema('point.schema.json'));

  app.get('/api/v1/health', { schema: { summary: 'Overall health, the bus and every plugin', tags: ['system'] } }, () => kernel.health());

  app.get('/api/v1/plugins', { schema: { summary: 'Loaded plugins with their manifest and health', tags: ['system'] } }, () =>
    kernel.plugins.map((p) => ({
      id: p.id,
      kind: p.manifest.kind,
      version: p.manifest.version,
      description: p.manifest.description,
      builtin: p.location.builtin,
      dir: p.location.dir,
      health: p.health.current(),
    })),
  );

  app.get('/api/v1/devices', { schema: { summary: 'Devices served by the protocol drivers, with status', tags: ['devices'] } }, () => devices(kernel));

  app.get<{ Params: { deviceId: string } }>(
    '/api/v1/devices/:deviceId',
    {
      schema: {
        summary: 'One device with its points and their latest values',
        tags: ['devices'],
        params: { type: 'object', required: ['deviceId'], properties: { deviceId: idParam } },
        response: { 404: errorSchema },
      },
    },
    (request) => {
      const d = devices(kernel).find((x) => x.deviceId === request.params.deviceId);
      if (!d) throw new EnergyMeshError('UNKNOWN_DEVICE', `no device ${request.params.deviceId}`);
      const driver = kernel.drivers.driverFor(d.deviceId);
      const points = driver?.devices().find((x) => x.deviceId === d.deviceId)?.points ?? [];
      return { ...d, points: points.map((p) => ({ ...p, latest: kernel.latest.get(d.deviceId, p.pointId) ?? null })) };
    },
  );

  app.get<{ Querystring: { deviceId?: string; limit: number } }>(
    '/api/v1/points',
    {
      schema: {
        summary: 'Latest value and quality of every point (optionally of one device)',
        tags: ['devices'],
        querystring: { type: 'object', additionalProperties: false, properties: { deviceId: idParam, limit: { type: 'integer', minimum: 1, maximum: 100000, default: 10000 } } },
        response: { 200: { type: 'array', items: telemetryRecord } },
      },
    },
    (request) => {
      const ids = request.query.deviceId ? [request.query.deviceId] : kernel.latest.deviceIds();
      const out: TelemetryRecord[] = [];
      for (const id of ids) {
        for (const r of kernel.latest.device(id)) {
          if (out.length >= request.query.limit) return out;
          out.push(r);
        }
      }
      return out;
    },
  );

  app.get(
    '/api/v1/points/catalog',
    { schema: { summary: 'Every configured or discovered point (no values)', tags: ['devices'], response: { 200: { type: 'array', items: point } } } },
    () => kernel.drivers.all().flatMap(({ driver }) => driver.devices().flatMap((d) => d.points)),
  );

  app.post<{ Body: CommandRequest }>(
    '/api/v1/commands',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Send a command (setpoint, coil, control) and wait for its outcome (202 when a compliance module holds it for a second approval)',
        tags: ['commands'],
        body: commandRequest,
        response: { 200: commandResult, 400: errorSchema },
      },
    },
    async (request, reply) => {
      const result = await kernel.executeCommand(request.body, request.principal);
      return reply.code(result.status === 'pending' ? 202 : 200).send(result);
    },
  );

  app.get<{ Querystring: { limit: number } }>(
    '/api/v1/commands',
    {
      schema: {
        summary: 'Recent command results, newest first',
        tags: ['commands'],
        querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100 } } },
        response: { 200: { type: 'array', items: commandResult } },
      },
    },
    (request) => kernel.commands.recent(request.query.limit),
  );

  app.get<{ Params: { commandId: string } }>(
    '/api/v1/commands/:commandId',
    {
      schema: {
        summary: 'One command result',
        tags: ['commands'],
        params: { type: 'object', required: ['commandId'], properties: { commandId: { type: 'string', format: 'uuid' } } },
        response: { 200: commandResult, 404: errorSchema },
      },
    },
    (request) => {
      const r = kernel.commands.get(request.params.commandId);
      if (!r) throw new EnergyMeshError('UNKNOWN_DEVICE', `no command ${request.params.commandId}`);
      return r;
    },
  );

  app.get('/api/v1/commands/approvals', { config: { role: 'operator' }, schema: { summary: 'Commands waiting for a second approval', tags: ['commands'] } }, () =>
    kernel.compliance.pendingApprovals(),
  );
  app.post<{ Params: { pendingId: string } }>(
    '/api/v1/commands/approvals/:pendingId',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Approve a held command (a different person than the one who sent it); executes it when the rules are satisfied',
        tags: ['commands'],
        params: { type: 'object', required: ['pendingId'], properties: { pendingId: { type: 'string', format: 'uuid' } } },
        response: { 200: commandResult, 403: errorSchema },
      },
    },
    (request) => kernel.executeApproval(request.params.pendingId, request.principal),
  );

  registerComplianceRoutes(app, kernel);

  if (options.auth) {
    const tokens = options.auth.tokens;
    app.get('/api/v1/tokens', { config: { role: 'admin' }, schema: { summary: 'API tokens (no secrets)', tags: ['auth'] } }, () => tokens.list());
    app.post<{ Body: { name: string; role: Role } }>(
      '/api/v1/tokens',
      {
        config: { role: 'admin' },
        schema: {
          summary: 'Create an API token; the clear token is in this response only',
          tags: ['auth'],
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'role'],
            properties: { name: { type: 'string', minLength: 1, maxLength: 100 }, role: { enum: ['viewer', 'operator', 'compliance-officer', 'admin'] } },
          },
        },
      },
      (request) => tokens.create(request.body.name, request.body.role),
    );
    app.delete<{ Params: { id: string } }>(
      '/api/v1/tokens/:id',
      {
        config: { role: 'admin' },
        schema: { summary: 'Revoke an API token', tags: ['auth'], params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[a-f0-9]{12}$' } } } },
      },
      (request) => {
        tokens.revoke(request.params.id);
        return { revoked: request.params.id };
      },
    );
  }

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['system'] } }, async (_request, reply) => {
    void reply.header('content-type', kernel.metrics.registry.contentType);
    return kernel.metrics.registry.metrics();
  });

  app.get('/api/v1/openapi.json', { schema: { hide: true } }, () => app.swagger());

  app.get('/api/v1/stream', { websocket: true, schema: { summary: 'Live telemetry over WebSocket (see README)', tags: ['devices'] } }, (socket) => {
    liveStream(kernel, socket, options.wsMaxBufferedBytes ?? 4 * 1024 * 1024);
  });

  for (const { pluginId, route } of kernel.pluginRoutes()) {
    const url = route.path.startsWith('/') ? route.path : `/api/v1/plugins/${pluginId}/${route.path}`;
    app.route({
      method: route.method,
      url,
      config: { role: route.role ?? (route.method === 'GET' ? 'viewer' : 'operator') },
      schema: { summary: route.summary, tags: [pluginId], ...(route.schema ?? {}) },
      handler: (request) =>
        route.handler({
          principal: request.principal,
          params: request.params as Record<string, string>,
          query: request.query as Record<string, unknown>,
          body: request.body,
        }),
    });
  }

  await app.ready();
  return app;
}

/** Who is calling: a bearer token (header, or `?access_token=` for browsers' WebSockets), or anonymous. */
function authenticate(request: FastifyRequest, auth: ApiServerOptions['auth']): { principal: Principal } | { reason: string } {
  if (!auth) return { principal: ADMIN };
  const header = request.headers.authorization;
  let token: string | undefined;
  if (typeof header === 'string') {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) return { reason: 'the Authorization header must read "Bearer <token>"' };
    token = m[1];
  } else {
    const q = (request.query as Record<string, unknown> | undefined)?.access_token;
    if (typeof q === 'string' && request.url.startsWith('/api/v1/stream')) token = q;
  }
  if (token === undefined) {
    return auth.anonymousRole === 'viewer' ? { principal: ANONYMOUS_VIEWER } : { reason: 'no API token: send "Authorization: Bearer <token>" (energymesh tokens create)' };
  }
  const principal = auth.tokens.authenticate(token);
  return principal ? { principal } : { reason: 'unknown, revoked or malformed API token' };
}

function devices(kernel: Kernel): { deviceId: string; protocol: string; driver: string; description?: string; points: number; status: string; reason?: string }[] {
  const status = new Map(kernel.devicesStatus().map((s) => [s.deviceId, s]));
  return kernel.drivers.all().flatMap(({ driver }) =>
    driver.devices().map((d) => {
      const s = status.get(d.deviceId);
      return {
        deviceId: d.deviceId,
        protocol: d.protocol,
        driver: driver.id,
        ...(d.description ? { description: d.description } : {}),
        points: d.points.length,
        status: s?.state ?? 'unknown',
        ...(s?.reason ? { reason: s.reason } : {}),
      };
    }),
  );
}

/**
 * Live stream protocol: the server sends `{"type":"records","records":[...]}`; the client may send
 * `{"subscribe":{"deviceIds":["a","b"]}}` (empty or absent = all devices). A client that reads too
 * slowly skips records and gets `{"type":"lagged","skipped":n}` once it catches up.
 */
function liveStream(kernel: Kernel, socket: WebSocket, maxBuffered: number): void {
  let filter: Set<string> | undefined;
  let skipped = 0;
  const off = kernel.latest.listen((records) => {
    const selected = filter ? records.filter((r) => filter?.has(r.deviceId)) : records;
    if (selected.length === 0) return;
    if (socket.bufferedAmount > maxBuffered) {
      skipped += selected.length;
      return;
    }
    if (skipped > 0) {
      socket.send(JSON.stringify({ type: 'lagged', skipped }));
      skipped = 0;
    }
    socket.send(JSON.stringify({ type: 'records', records: selected }));
  });
  socket.on('message', (data) => {
    let msg: unknown;
    try {
      msg = JSON.parse(String(data));
    } catch {
      socket.send(JSON.stringify({ type: 'error', error: { code: 'INVALID_ARGUMENT', message: 'messages must be JSON' } }));
      return;
    }
    const sub = (msg as { subscribe?: { deviceIds?: unknown } } | null)?.subscribe;
    const ids = sub?.deviceIds;
    if (!sub || (ids !== undefined && (!Array.isArray(ids) || ids.length > 10000 || !ids.every((x) => typeof x === 'string')))) {
      socket.send(JSON.stringify({ type: 'error', error: { code: 'INVALID_ARGUMENT', message: 'expected {"subscribe":{"deviceIds":[string...]}}' } }));
      return;
    }
    filter = ids && ids.length > 0 ? new Set(ids as string[]) : undefined;
    socket.send(JSON.stringify({ type: 'subscribed', deviceIds: filter ? [...filter] : 'all' }));
  });
  socket.on('close', off);
  socket.on('error', off);
}

function sendError(reply: FastifyReply, error: FastifyError | EnergyMeshError): FastifyReply {
  if (isEnergyMeshError(error)) {
    return reply.code(STATUS_BY_CODE[error.code] ?? 500).send({ error: error.toJSON() });
  }
  const fe = error as FastifyError & { validation?: { instancePath: string; message?: string; params?: Record<string, unknown> }[] };
  if (fe.validation) {
    const issues = fe.validation.map((v) => ({
      path: `${fe.validationContext ?? 'body'}${v.instancePath}${v.params?.missingProperty ? `/${String(v.params.missingProperty)}` : ''}${v.params?.additionalProperty ? `/${String(v.params.additionalProperty)}` : ''}`,
      message: v.message ?? 'is invalid',
    }));
    return reply.code(400).send({
      error: { code: 'SCHEMA_VIOLATION', message: issues.map((i) => `${i.path}: ${i.message}`).join('; '), details: { issues } },
    });
  }
  const status = fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 600 ? fe.statusCode : 500;
  const code = status === 413 ? 'INVALID_ARGUMENT' : status < 500 ? 'INVALID_ARGUMENT' : 'INTERNAL';
  const message = status === 500 ? 'internal error (see the server log)' : fe.message;
  if (status === 500) reply.log.error({ err: fe.message }, 'API handler failed');
  return reply.code(status).send({ error: { code, message, details: fe.code ? { fastifyCode: fe.code } : {} } });
}
