/**
 * Compliance officers' flow over the real API: toggling modules (roles, reasons, schedules, bad
 * input), a NERC CIP critical control held for a second person's approval, and the audit log that
 * records all of it and verifies.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { main } from '../../../core/cli/main.ts';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inlineConfig } from '../../../core/config/config-file.ts';
import { startInstance } from '../../../core/instance.ts';
import type { Instance } from '../../../core/instance.ts';
import { PACKAGE_ROOT } from '../../../core/paths.ts';
import type { CommandResult } from '../../../core/model/telemetry.ts';

describe('compliance API', () => {
  let dir: string;
  let instance: Instance;
  let url: string;
  const tokens: Record<string, string> = {};

  const call = async (token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'em-compliance-api-'));
    instance = await startInstance(
      inlineConfig(
        {
          dataDir: dir,
          api: { port: 0 },
          plugins: [
            { path: 'examples/plugin-template', config: { devices: [{ id: 'breaker-1', intervalMs: 50 }, { id: 'pv-9', intervalMs: 50 }] } },
            { id: 'compliance.us-nerc-cip', config: { criticalControls: [{ devices: ['breaker-*'], approverRoles: ['operator'], windowSeconds: 60 }] } },
            { id: 'compliance.us-ercot' },
            { id: 'compliance.gb-elexon' },
          ],
        },
        resolve(PACKAGE_ROOT),
      ),
      { defaultMetrics: false },
    );
    url = instance.url as string;
    tokens.admin = instance.initialAdminToken?.token as string;
    for (const [name, role] of [
      ['officer', 'compliance-officer'],
      ['alice', 'operator'],
      ['bob', 'operator'],
      ['viewer', 'viewer'],
    ]) {
      const r = await call(tokens.admin, 'POST', '/api/v1/tokens', { name: name as string, role });
      tokens[name as string] = (r.json as { token: string }).token;
    }
  });

  after(async () => {
    await instance?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists modules; only a compliance officer (or admin) toggles, always with a reason', async () => {
    const list = (await call(tokens.viewer as string, 'GET', '/api/v1/compliance/modules')).json as { id: string; active: boolean }[];
    assert.deepEqual(list.map((m) => m.id).sort(), ['gb-elexon', 'us-ercot', 'us-nerc-cip']);
    assert.ok(list.every((m) => !m.active));
    assert.equal((await call(tokens.alice as string, 'POST', '/api/v1/compliance/modules/us-nerc-cip/enable', { reason: 'CIP audit' })).status, 403);
    assert.equal((await call(tokens.officer as string, 'POST', '/api/v1/compliance/modules/us-nerc-cip/enable', {})).status, 400);
    const ok = await call(tokens.officer as string, 'POST', '/api/v1/compliance/modules/us-nerc-cip/enable', { reason: 'NERC CIP-007 in force for this site' });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    const status = (await call(tokens.viewer as string, 'GET', '/api/v1/compliance/status')).json as { active: { id: string; reason: string }[] };
    assert.deepEqual(status.active.map((a) => [a.id, a.reason]), [['us-nerc-cip', 'NERC CIP-007 in force for this site']]);
  });

  it('refuses unknown modules, malformed schedules and conflicting modules with clear errors', async () => {
    const unknown = await call(tokens.officer as string, 'POST', '/api/v1/compliance/modules/xx-nope/enable', { reason: 'test it' });
    assert.equal(unknown.status, 400);
    assert.match(JSON.stringify(unknown.json), /unknown compliance module/);
    const badTime = await call(tokens.officer as string, 'POST', '/api/v1/compliance/modules/us-ercot/enable', { reason: 'market entry', at: 'next tuesday' });
    assert.equal(badTime.status, 400);
    assert.equal((await call(tokens.officer as string, 'POST', '/api/v1/compliance/modules/us-ercot/enable', { reason: 'ERCOT market entry' })).status, 200);
    const conflict = await call(tokens.officer as string, 'POST', '/api/v1/compliance/modules/gb-elexon/enable', { reason: 'GB too' });
    assert.equal(conflict.status, 409);
    assert.match(JSON.stringify(conflict.json), /us-ercot/);
    const later = new Date(Date.now() + 3600_000).toISOString();
    const scheduled = await call(tokens.officer as string, 'POST', '/api/v1/compliance/modules/us-ercot/disable', { reason: 'leaving ERCOT', at: later });
    assert.equal(scheduled.status, 200);
    const status = (await call(tokens.viewer as string, 'GET', '/api/v1/compliance/status')).json as { scheduled: { module: string; action: string }[]; active: { id: string }[] };
    assert.deepEqual(status.scheduled.map((c) => [c.module, c.action]), [['us-ercot', 'disable']]);
    assert.ok(status.active.some((a) => a.id === 'us-ercot'), 'still active until the stated time');
  });

  it('holds a critical control for a second, different operator, then executes it', async () => {
    const held = await call(tokens.alice as string, 'POST', '/api/v1/commands', { deviceId: 'breaker-1', pointId: 'offset', value: 7, reason: 'open for maintenance' });
    assert.equal(held.status, 202);
    const pending = held.json as CommandResult;
    assert.equal(pending.status, 'pending');
    const id = pending.approval?.pendingId as string;
    assert.ok(id);
    assert.equal(instance.kernel.latest.get('breaker-1', 'offset')?.value ?? 0, 0, 'not executed yet');
    const self = await call(tokens.alice as string, 'POST', `/api/v1/commands/approvals/${id}`);
    assert.equal(self.status, 403, 'the requester cannot approve their own command');
    const byViewer = await call(tokens.viewer as string, 'POST', `/api/v1/commands/approvals/${id}`);
    assert.equal(byViewer.status, 403);
    const approved = await call(tokens.bob as string, 'POST', `/api/v1/commands/approvals/${id}`);
    assert.equal(approved.status, 200, JSON.stringify(approved.json));
    assert.equal((approved.json as CommandResult).status, 'succeeded');
    const again = await call(tokens.bob as string, 'POST', `/api/v1/commands/approvals/${id}`);
    assert.equal(again.status, 400, 'an approval is used once');
    // a non-critical device goes straight through
    const direct = await call(tokens.alice as string, 'POST', '/api/v1/commands', { deviceId: 'pv-9', pointId: 'offset', value: 3 });
    assert.equal((direct.json as CommandResult).status, 'succeeded');
  });

  it('keeps every toggle, gate, approval, command and refusal in a verifiable audit log', async () => {
    const verify = (await call(tokens.officer as string, 'GET', '/api/v1/audit/verify')).json as { ok: boolean; records: number };
    assert.equal(verify.ok, true);
    const exported = (await call(tokens.officer as string, 'GET', '/api/v1/audit')).json as { records: { type: string; outcome?: string; actor: string }[] };
    const types = new Set(exported.records.map((r) => `${r.type}:${r.outcome ?? ''}`));
    for (const t of ['compliance.toggle:', 'compliance.gate:approval-required', 'compliance.approval:denied', 'compliance.approval:allowed', 'command:succeeded', 'auth.failure:']) {
      assert.ok([...types].some((x) => x.startsWith(t)), `audit has ${t} (has ${[...types].join(', ')})`);
    }
    assert.equal((await call(tokens.alice as string, 'GET', '/api/v1/audit/verify')).status, 403);
    const report = await call(tokens.officer as string, 'GET', '/api/v1/compliance/report?format=markdown');
    assert.equal(report.status, 200);
    assert.match(String(report.json), /us-nerc-cip/);
  });

  it('the CLI toggles through the API and `audit verify` detects a changed byte', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
    const cfg = join(dir, 'cli.yaml');
    writeFileSync(cfg, `dataDir: ${dir}\n`);
    const remote = ['--url', url, '--token', tokens.officer as string];
    assert.equal(await main(['node', 'energymesh', 'compliance', 'list', ...remote], io, false), 0, err.join('\n'));
    assert.ok(out.some((l) => /^us-nerc-cip\s+active/.test(l)), out.join('\n'));
    assert.equal(await main(['node', 'energymesh', 'compliance', 'disable', 'us-nerc-cip', '--reason', 'site decommissioned', ...remote], io, false), 0, err.join('\n'));
    assert.equal(await main(['node', 'energymesh', 'compliance', 'enable', 'us-nerc-cip', ...remote], io, false), 2, 'a reason is mandatory');
    assert.equal(await main(['node', 'energymesh', 'compliance', 'disable', 'us-nerc-cip', '--reason', 'again', '--url', url, '--token', tokens.alice as string], io, false), 1, 'operators may not');
    assert.match(err.join('\n'), /403/);

    assert.equal(await main(['node', 'energymesh', 'audit', 'verify', '--config', cfg], io, false), 0, err.join('\n'));
    assert.match(out.join('\n'), /audit log OK: \d+ records/);
    const file = join(dir, 'audit', 'audit.log');
    const bytes = readFileSync(file);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at] === 0x61 ? 0x62 : 0x61;
    writeFileSync(file, bytes);
    err.length = 0;
    assert.equal(await main(['node', 'energymesh', 'audit', 'verify', '--config', cfg], io, false), 1);
    assert.match(err.join('\n'), /audit log TAMPERED: record \d+: /);
  });
});
