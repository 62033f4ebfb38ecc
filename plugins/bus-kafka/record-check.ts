/**
 * Decides whether a record read from Kafka is ours: its value must be JSON, and on the telemetry topic a
 * TelemetryRecord (schemas/telemetry-record.schema.json). Pure: no I/O. Records that fail go to the
 * dead-letter topic with the reason; the consumer never sees them and never stops for them.
 */
import type { ValidateFunction } from 'ajv';

import { createSharedAjv, sharedSchema } from '../../core/config/schema-registry.ts';
import { compileSchema } from '../../core/config/schema-validator.ts';

let validateTelemetry: ValidateFunction | undefined;

function telemetryValidator(): ValidateFunction {
  validateTelemetry ??= compileSchema(createSharedAjv(), sharedSchema('telemetry-record.schema.json'), 'schemas/telemetry-record.schema.json');
  return validateTelemetry;
}

export type RecordCheck = { ok: true; value: unknown } | { ok: false; reason: string };

/** Parses and checks one record value. */
export function checkRecord(raw: Buffer | null, telemetry: boolean): RecordCheck {
  if (raw === null) return { ok: false, reason: 'no value (tombstone)' };
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    return { ok: false, reason: `not JSON: ${(e as Error).message}`.slice(0, 300) };
  }
  if (telemetry) {
    const validate = telemetryValidator();
    if (!validate(value)) {
      const first = validate.errors?.[0];
      const where = first?.instancePath || '/';
      return { ok: false, reason: `not a TelemetryRecord (schemas/telemetry-record.schema.json): ${where} ${first?.message ?? 'invalid'}`.slice(0, 300) };
    }
  }
  return { ok: true, value };
}
