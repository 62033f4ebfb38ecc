import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createComplianceServices } from '../../core/compliance/compliance-services.ts';
import type { TelemetryRecord } from '../../core/model/telemetry.ts';
import { isEnergyMeshError } from '../../core/errors.ts';
import { createGdprModule, InMemoryPersonalDataStore, PSEUDONYM_KEY_TAG } from './gdpr-module.ts';
import type { GdprConfig } from './gdpr-module.ts';

const SECRET_A = 'a-very-secret-key-for-tests-0001';
const SECRET_B = 'another-secret-key-for-rotation-2';

function config(over: Partial<GdprConfig> = {}): GdprConfig {
  return { keys: [{ id: 'k1', secret: SECRET_A }], activeKey: 'k1', personalDevices: ['meter-*'], ...over };
}

function meterRecord(over: Partial<TelemetryRecord> = {}): TelemetryRecord {
  return {
    deviceId: 'meter-4711-0815',
    pointId: 'energy-import-kwh',
    ts: Date.UTC(2026, 10, 24, 6, 15),
    receivedAt: Date.UTC(2026, 10, 24, 6, 15, 2),
    value: 0.231,
    quality: { status: 'good', flags: [], raw: { dlms: 0 } },
    protocol: 'dlms',
    seq: 42,
    unit: 'kWh',
    tags: { customerId: 'CUST-000123', nmi: 'NCCC001234', address: '12 Rue de la Paix', feeder: 'F12' },
    ...over,
  };
}

describe('eu-gdpr', () => {
  it('pseudonymises a personal meter and its identifier tags, drops address, keeps the rest', () => {
    const m = createGdprModule(config());
    const t = m.telemetryTransforms?.[0];
    assert.ok(t);
    assert.equal(t.phase, 'egress');
    const r = meterRecord();
    const out = t.apply(r, { now: 0 });
    assert.notEqual(out, r, 'transformed into a new record');
    assert.match(out.deviceId, /^p-k1-[0-9a-f]{32}$/);
    assert.match(out.tags?.customerId ?? '', /^p-k1-[0-9a-f]{32}$/);
    assert.match(out.tags?.nmi ?? '', /^p-k1-[0-9a-f]{32}$/);
    assert.equal(out.tags?.address, undefined, 'minimised');
    assert.equal(out.tags?.feeder, 'F12', 'non-personal tags kept');
    assert.equal(out.tags?.[PSEUDONYM_KEY_TAG], 'k1');
    assert.equal(out.value, 0.231);
    assert.equal(r.deviceId, 'meter-4711-0815', 'the input is not mutated');
    const serialized = JSON.stringify(out);
    for (const secret of ['meter-4711-0815', 'CUST-000123', 'NCCC001234', '12 Rue de la Paix']) assert.ok(!serialized.includes(secret), `${secret} leaked`);
    // deterministic: the same id gives the same pseudonym, so records stay joinable
    assert.equal(t.apply(meterRecord({ seq: 43 }), { now: 0 }).deviceId, out.deviceId);
  });

  it('passes a non-personal record through untouched (same object)', () => {
    const t = createGdprModule(config()).telemetryTransforms?.[0];
    const r = meterRecord({ deviceId: 'inverter-7', tags: { feeder: 'F12' } });
    assert.equal(t?.apply(r, { now: 0 }), r);
  });

  it('does not pseudonymise twice', () => {
    const t = createGdprModule(config()).telemetryTransforms?.[0];
    const once = t?.apply(meterRecord(), { now: 0 }) as TelemetryRecord;
    assert.equal(t?.apply(once, { now: 0 }), once);
  });

  it('rotates keys: a new key id gives unlinkable pseudonyms, and the key id is in the output', () => {
    const before = createGdprModule(config()).telemetryTransforms?.[0]?.apply(meterRecord(), { now: 0 });
    const after = createGdprModule(config({ keys: [{ id: 'k1', secret: SECRET_A }, { id: 'k2', secret: SECRET_B }], activeKey: 'k2' })).telemetryTransforms?.[0]?.apply(meterRecord(), { now: 0 });
    assert.match(after?.deviceId ?? '', /^p-k2-/);
    assert.equal(after?.tags?.[PSEUDONYM_KEY_TAG], 'k2');
    assert.notEqual(after?.deviceId.slice(5), before?.deviceId.slice(5));
  });

  it('drops configured fields (unit, quality.raw)', () => {
    const t = createGdprModule(config({ dropFields: ['unit', 'quality.raw'] })).telemetryTransforms?.[0];
    const out = t?.apply(meterRecord({ deviceId: 'inverter-1', tags: undefined }), { now: 0 });
    assert.equal(out?.unit, undefined);
    assert.equal(out?.quality.raw, undefined);
    assert.equal(out?.deviceId, 'inverter-1');
  });

  it('refuses a short key or an unknown active key', () => {
    assert.throws(() => createGdprModule(config({ keys: [{ id: 'k1', secret: 'short' }] })), (e: unknown) => isEnergyMeshError(e, 'CONFIG_INVALID'));
    assert.throws(() => createGdprModule(config({ activeKey: 'k9' })), (e: unknown) => isEnergyMeshError(e, 'CONFIG_INVALID') && /k9/.test(e.message));
  });

  it('pseudonymises personal trade parties', () => {
    const m = createGdprModule(config());
    const trade = { id: 't1', seller: 'meter-4711-0815', buyer: 'retailer-1', deliveryStart: 0, deliveryEnd: 900_000, energyWh: 1200, price: 80, submittedAt: 0 };
    const out = m.tradeTransforms?.[0]?.apply(trade, { now: 0 });
    assert.match(out?.seller ?? '', /^p-k1-/);
    assert.equal(out?.buyer, 'retailer-1');
  });

  it('storage limitation, subject access (with pseudonyms per key) and erasure over a store', async () => {
    const m = createGdprModule(config({ keys: [{ id: 'k1', secret: SECRET_A }, { id: 'k2', secret: SECRET_B }], activeKey: 'k2', retention: { personalMaxDays: 365 } }));
    assert.deepEqual(m.retention?.[0], { dataClass: 'personal', maxDays: 365, source: 'GDPR Art. 5(1)(e) storage limitation' });
    const store = new InMemoryPersonalDataStore();
    store.add({ subjectId: 'CUST-000123', kind: 'contract', storedAt: 1000, data: { name: 'A. Customer', meterId: 'meter-4711-0815' } });
    store.add({ subjectId: 'CUST-000999', kind: 'contract', storedAt: 1000, data: { name: 'B. Other' } });
    const report = await m.personalData?.subjectAccess(store, 'CUST-000123', Date.UTC(2026, 10, 24));
    assert.equal(report?.records.length, 1);
    assert.deepEqual(Object.keys(report?.pseudonyms ?? {}), ['k1', 'k2']);
    const out = m.telemetryTransforms?.[0]?.apply(meterRecord(), { now: 0 });
    assert.equal(report?.pseudonyms.k2?.['meter-4711-0815'], out?.deviceId, 'the subject can find their meter’s pseudonym');
    assert.equal(report?.pseudonyms.k2?.['CUST-000123'], out?.tags?.customerId);
    assert.equal(await m.personalData?.erase(store, 'CUST-000123'), 1);
    assert.equal((await store.find('CUST-000123')).length, 0);
    assert.equal(store.size(), 1);
  });

  it('through the manager: egress output carries no personal identifier; subject access, erasure and purge are audited', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'em-gdpr-'));
    try {
      let now = Date.UTC(2026, 10, 24, 7, 0);
      const store = new InMemoryPersonalDataStore();
      store.add({ subjectId: 'CUST-000123', kind: 'contract', storedAt: now - 10 * 86_400_000, data: { meterId: 'meter-4711-0815' } });
      store.add({ subjectId: 'CUST-000777', kind: 'contract', storedAt: now - 900 * 86_400_000, data: {} });
      const { manager, audit } = createComplianceServices({ dataDir: dir, modules: [createGdprModule(config())], clock: () => now, personalData: store });
      const batch = (): TelemetryRecord[] => [meterRecord(), meterRecord({ seq: 43, pointId: 'voltage-l1', value: 231.2 }), meterRecord({ deviceId: 'inverter-7', tags: { customerId: 'CUST-000123' } })];
      assert.ok(JSON.stringify(manager.egressStage().process(batch())).includes('CUST-000123'), 'off: unchanged');
      manager.enable('eu-gdpr', { by: 'dpo', reason: 'DPIA 2026-14' });
      const ingest = manager.stage().process(batch()) as TelemetryRecord[];
      assert.ok(JSON.stringify(ingest).includes('meter-4711-0815'), 'egress rules do not run at ingest');
      const out = JSON.stringify(manager.egressStage().process(batch()));
      for (const id of ['meter-4711-0815', 'CUST-000123', 'NCCC001234', '12 Rue de la Paix']) assert.ok(!out.includes(id), `${id} left the site`);
      assert.equal(manager.status().counters['eu-gdpr']?.transformed, 3);
      const report = await manager.subjectAccess('CUST-000123', 'dpo');
      assert.equal(report.records.length, 1);
      assert.equal(await manager.erase('CUST-000123', { by: 'dpo', reason: 'Art. 17 request #88' }), 1);
      now += 1000;
      assert.equal(await manager.purgeExpiredPersonalData(), 1, 'the 900-day-old record is past the 730-day limit');
      assert.equal(store.size(), 0);
      const recs = audit.readAll().filter((r) => r.type === 'compliance.erasure');
      assert.deepEqual(recs.map((r) => [r.actor, r.action, r.details?.records]), [
        ['dpo', 'subject-access', 1],
        ['dpo', 'erase', 1],
        ['system', 'purge', 1],
      ]);
      await assert.rejects(manager.erase('x', { by: 'dpo', reason: '' }), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
