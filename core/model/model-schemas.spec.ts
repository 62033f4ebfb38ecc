import assert from 'node:assert/strict';
import { createSharedAjv, sharedSchema } from '../config/schema-registry.ts';
import type { CommandRequest, CommandResult, DeviceEvent, Point, Quality, TelemetryRecord } from './telemetry.ts';

// Compile-time lists of each type's properties: adding a property to a type without adding it
// here fails to compile, and the test below fails if the schema disagrees.
const keys = {
  'telemetry-record.schema.json': { deviceId: 1, pointId: 1, ts: 1, receivedAt: 1, value: 1, quality: 1, protocol: 1, seq: 1, unit: 1, tags: 1 } satisfies Record<keyof TelemetryRecord, 1>,
  'quality.schema.json': { status: 1, flags: 1, raw: 1 } satisfies Record<keyof Quality, 1>,
  'point.schema.json': { deviceId: 1, pointId: 1, kind: 1, unit: 1, scale: 1, offset: 1, writable: 1, description: 1, protocol: 1, address: 1 } satisfies Record<keyof Point, 1>,
  'event.schema.json': { deviceId: 1, pointId: 1, type: 1, severity: 1, ts: 1, receivedAt: 1, message: 1, seq: 1, data: 1 } satisfies Record<keyof DeviceEvent, 1>,
  'command.schema.json': { deviceId: 1, pointId: 1, action: 1, value: 1, timeoutMs: 1, reason: 1 } satisfies Record<keyof CommandRequest, 1>,
  'command-result.schema.json': { commandId: 1, deviceId: 1, pointId: 1, status: 1, issuedAt: 1, completedAt: 1, error: 1, approval: 1 } satisfies Record<keyof CommandResult, 1>,
};

describe('data model schemas', () => {
  for (const [file, props] of Object.entries(keys)) {
    it(`${file} has exactly the properties of its TypeScript type`, () => {
      const schema = sharedSchema(file) as { properties: Record<string, unknown> };
      assert.deepEqual(Object.keys(schema.properties).sort(), Object.keys(props).sort());
    });
  }

  it('accepts a well-formed telemetry record and rejects a malformed one', () => {
    const ajv = createSharedAjv();
    const validate = ajv.getSchema('https://energymesh.dev/schemas/telemetry-record.schema.json');
    assert.ok(validate);
    const good: TelemetryRecord = {
      deviceId: 'inv-1',
      pointId: 'W',
      ts: 1_700_000_000_000,
      receivedAt: 1_700_000_000_010,
      value: 4200.5,
      quality: { status: 'uncertain', flags: ['restart'], raw: { dnp3Flags: 0x03 } },
      protocol: 'dnp3',
      seq: 17,
    };
    assert.equal(validate(good), true, JSON.stringify(validate.errors));
    assert.equal(validate({ ...good, quality: { status: 'fine', flags: [] } }), false);
    assert.equal(validate({ ...good, seq: -1 }), false);
    assert.equal(validate({ ...good, deviceId: 'has space' }), false);
  });
});
