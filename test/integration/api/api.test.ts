import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import { inlineConfig } from '../../../core/config/config-file.ts';
import { startInstance } from '../../../core/instance.ts';
import type { Instance } from '../../../core/instance.ts';
import { PACKAGE_ROOT } from '../../../core/paths.ts';
import type { CommandResult, TelemetryRecord } from '../../../core/model/telemetry.ts';

const fixtures = resolve(PACKAGE_ROOT, 'test', 'fixtures');

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('API', () => {
  let dir: string;
  let instance: Instance;
  let url: string;
  let admin: string;
  let operator: string;
  let viewer: string;
  const auth = (token: string): { headers: Record<string, string> } => ({ headers: { authorization: `Bearer ${token}` } });
  const fetch = (input: string, init: RequestInit = {}): Promise<Response> =>
    globalThis.fetch(input, { ...init, headers: { authorization: `Bearer ${viewer}`, ...(init.headers as Record<string, string> | undefined) } });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'em-api-'));
    instance = await startInstance(
      inlineConfig(
        {
          dataDir: dir,
          api: { port: 0, bodyLimitBytes: 4096 },
          plugins: [{ path: '../../examples/plugin-template', config: { devices: [{ id: 'gen-1', intervalMs: 20 }, { id: 'gen-2', intervalMs: 20 }] } }],
        },
        fixtures,
      ),
      { defaultMetrics: false },
    );
    url = instance.url as string;
    admin = instance.initialAdminToken?.token as string;
    assert.ok(admin, 'a first admin token is created when none exists');
    const mk = async (role: string) => {
      const res = await globalThis.fetch(`${url}/api/v1/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `test ${role}`, role }),
      });
      assert.equal(res.status, 200);
      return ((await res.json()) as { token: string }).token;
    };
    operator = await mk('operator');
    viewer = await mk('viewer');
    await until('first values', () => instance.kernel.latest.size() >= 4);
  });

  after(async () => {
    await instance?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports health with every plugin', async () => {
    const res = await fetch(`${url}/api/v1/health`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { status: string; plugins: { id: string; health: { state: string } }[] };
    assert.equal(body.status, 'up');
    assert.deepEqual(body.plugins.map((p) => [p.id, p.health.state]), [['protocol.template', 'up']]);
  });

  it('lists plugins, devices and a device with its points and latest values', async () => {
    const plugins = (await (await fetch(`${url}/api/v1/plugins`)).json()) as { id: string; kind: string }[];
    assert.equal(plugins[0]?.kind, 'protocol');
    const devices = (await (await fetch(`${url}/api/v1/devices`)).json()) as { deviceId: string; status: string; points: number }[];
    assert.deepEqual(devices.map((d) => [d.deviceId, d.status, d.points]), [['gen-1', 'online', 2], ['gen-2', 'online', 2]]);
    const one = (await (await fetch(`${url}/api/v1/devices/gen-1`)).json()) as { points: { pointId: string; latest: TelemetryRecord | null }[] };
    const signal = one.points.find((p) => p.pointId === 'signal');
    assert.equal(typeof signal?.latest?.value, 'number');
    assert.equal(signal?.latest?.quality.status, 'good');
    const missing = await fetch(`${url}/api/v1/devices/nope`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'UNKNOWN_DEVICE');
  });

  it('returns latest values filtered by device', async () => {
    const pts = (await (await fetch(`${url}/api/v1/points?deviceId=gen-2&limit=50`)).json()) as TelemetryRecord[];
    assert.deepEqual(pts.map((p) => p.pointId).sort(), ['offset', 'signal']);
    assert.ok(pts.every((p) => p.deviceId === 'gen-2'));
  });

  it('executes a command and returns its result, which can be fetched again', async () => {
    const res = await fetch(`${url}/api/v1/commands`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth(operator).headers },
      body: JSON.stringify({ deviceId: 'gen-1', pointId: 'offset', value: 42 }),
    });
    assert.equal(res.status, 200);
    const result = (await res.json()) as CommandResult;
    assert.equal(result.status, 'succeeded');
    assert.match(instance.kernel.commands.recent(1)[0]?.commandId ?? '', /./);
    const again = (await (await fetch(`${url}/api/v1/commands/${result.commandId}`)).json()) as CommandResult;
    assert.equal(again.status, 'succeeded');
    await until('offset visible', () => instance.kernel.latest.get('gen-1', 'offset')?.value === 42);
  });

  it('answers hostile input with clear errors and keeps serving', async () => {
    const post = (body: string, type = 'application/json') =>
      fetch(`${url}/api/v1/commands`, { method: 'POST', headers: { 'content-type': type, ...auth(operator).headers }, body });
    const huge = await post(JSON.stringify({ deviceId: 'gen-1', pointId: 'offset', value: 'x'.repeat(10_000) }));
    assert.equal(huge.status, 413);
    const badJson = await post('{"deviceId": ');
    assert.equal(badJson.status, 400);
    const wrongTypes = await post(JSON.stringify({ deviceId: 5, pointId: ['x'], value: { a: 1 }, extra: true }));
    assert.equal(wrongTypes.status, 400);
    const err = ((await wrongTypes.json()) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'SCHEMA_VIOLATION');
    assert.match(err.message, /body\/deviceId: must be string/);
    assert.match(err.message, /body\/extra/);
    const badQuery = await fetch(`${url}/api/v1/points?limit=-5`);
    assert.equal(badQuery.status, 400);
    const badId = await fetch(`${url}/api/v1/commands/not-a-uuid`);
    assert.equal(badId.status, 400);
    const notFound = await fetch(`${url}/api/v1/nothing-here`);
    assert.equal(notFound.status, 404);
    const health = await fetch(`${url}/api/v1/health`);
    assert.equal(health.status, 200);
  });

  it('serves an OpenAPI 3.1 document built from the schemas', async () => {
    const doc = (await (await fetch(`${url}/api/v1/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } }>> };
    assert.equal(doc.openapi, '3.1.0');
    const post = doc.paths['/api/v1/commands']?.post;
    const props = post?.requestBody?.content['application/json']?.schema.properties ?? {};
    assert.deepEqual(Object.keys(props).sort(), ['action', 'deviceId', 'pointId', 'reason', 'timeoutMs', 'value']);
    assert.ok(doc.paths['/api/v1/devices/{deviceId}']);
  });

  it('exposes Prometheus metrics with records per plugin and poll latency', async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const m = /energymesh_records_total\{plugin="protocol\.template"\} (\d+)/.exec(text);
    assert.ok(m && Number(m[1]) > 0, 'records counted');
    assert.match(text, /energymesh_poll_duration_seconds_count\{plugin="protocol\.template"\} \d+/);
    assert.match(text, /energymesh_plugin_health\{plugin="protocol\.template"\} 2/);
    assert.match(text, /energymesh_devices_online\{plugin="protocol\.template"\} 2/);
  });

  it('streams live values over WebSocket with a device filter, and survives junk messages', async () => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/api/v1/stream?access_token=${viewer}`);
    const messages: { type: string; records?: TelemetryRecord[] }[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(String(d)) as { type: string }));
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    ws.send('not json');
    ws.send(JSON.stringify({ subscribe: { deviceIds: 'gen-2' } }));
    ws.send(JSON.stringify({ subscribe: { deviceIds: ['gen-2'] } }));
    await until('subscribed', () => messages.some((m) => m.type === 'subscribed'));
    assert.equal(messages.filter((m) => m.type === 'error').length, 2);
    const from = messages.length;
    await until('records for gen-2', () => messages.slice(from).some((m) => m.type === 'records'));
    const after = messages.slice(from).filter((m) => m.type === 'records');
    assert.ok(after.every((m) => m.records?.every((r) => r.deviceId === 'gen-2')), 'only the subscribed device');
    ws.close();
    await new Promise((r) => ws.once('close', r));
  });

  it('checks roles: no token 401, viewer may not command 403, revoked token 401, only admin manages tokens', async () => {
    const none = await globalThis.fetch(`${url}/api/v1/devices`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /Bearer/);
    const garbled = await globalThis.fetch(`${url}/api/v1/devices`, { headers: { authorization: 'Basic abc' } });
    assert.equal(garbled.status, 401);
    const cmd = { method: 'POST', headers: { 'content-type': 'application/json', ...auth(viewer).headers }, body: JSON.stringify({ deviceId: 'gen-1', pointId: 'offset', value: 1 }) };
    const forbidden = await globalThis.fetch(`${url}/api/v1/commands`, cmd);
    assert.equal(forbidden.status, 403);
    assert.equal(((await forbidden.json()) as { error: { code: string } }).error.code, 'FORBIDDEN');
    const listByOperator = await globalThis.fetch(`${url}/api/v1/tokens`, auth(operator));
    assert.equal(listByOperator.status, 403);
    const list = (await (await globalThis.fetch(`${url}/api/v1/tokens`, auth(admin))).json()) as { id: string; name: string }[];
    assert.ok(list.every((t) => !JSON.stringify(t).includes('hash')), 'no hashes leave the server');
    const victim = list.find((t) => t.name === 'test viewer');
    const del = await globalThis.fetch(`${url}/api/v1/tokens/${victim?.id}`, { method: 'DELETE', ...auth(admin) });
    assert.equal(del.status, 200);
    const revoked = await globalThis.fetch(`${url}/api/v1/devices`, auth(viewer));
    assert.equal(revoked.status, 401);
    const metrics = await (await globalThis.fetch(`${url}/metrics`, auth(admin))).text();
    assert.match(metrics, /energymesh_auth_denied_total\{reason="forbidden"\} [1-9]/);
    viewer = operator; // later tests (none) would use a live token
  });
});
