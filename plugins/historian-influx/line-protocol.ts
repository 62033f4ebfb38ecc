/**
 * TelemetryRecord → InfluxDB line protocol. Pure: no I/O.
 *
 * Grammar (InfluxDB line protocol):
 * ```
 * line      = measurement ("," tagKey "=" tagValue)* " " fieldKey "=" fieldValue ("," fieldKey "=" fieldValue)* " " timestamp
 * ```
 * Escaping: measurement escapes `,` and space; tag keys/values and field keys escape `,` `=` and space;
 * string field values are double-quoted with `"` and `\` escaped. Backslashes in names are escaped too.
 *
 * Mapping (documented in README.md):
 * - measurement: `telemetry` (configurable)
 * - tags: `deviceId`, `pointId`, `protocol`, `quality` (good/uncertain/invalid), `site` and every other
 *   record tag, `unit` when set, plus static tags from the config. Tags with an empty value are left out
 *   (line protocol has no empty tag values).
 * - fields: the value under a field named by its type, because InfluxDB fixes a field's type per measurement
 *   (a boolean written to a float field is refused as a type conflict): `value` (float) for numbers,
 *   `value_bool` for booleans, `value_string` for strings; none for null (quality says why). Always `seq`
 *   (integer), `received_at` (integer epoch ms) and, when there are any, `quality_flags` (comma-separated string).
 * - timestamp: the source time `ts` in milliseconds (precision `ms`; fractions of a millisecond are truncated).
 * Idempotent: a record delivered twice produces the same series and timestamp, which InfluxDB overwrites
 * with the same fields.
 */
import type { TelemetryRecord } from '../../core/model/telemetry.ts';

export interface LineProtocolOptions {
  measurement: string;
  /** Static tags added to every line (record tags of the same name win). */
  staticTags?: Record<string, string>;
}

const RESERVED_TAGS = new Set(['deviceId', 'pointId', 'protocol', 'quality', 'unit']);

export function escapeMeasurement(s: string): string {
  return s.replace(/[\\, ]/g, (c) => `\\${c}`).replace(/\n/g, '\\n');
}

export function escapeKey(s: string): string {
  return s.replace(/[\\,= ]/g, (c) => `\\${c}`).replace(/\n/g, '\\n');
}

export function escapeStringField(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;
}

function formatFloat(n: number): string {
  // Line protocol floats: plain decimal or exponent; integers are valid floats when written without `i`.
  return Number.isInteger(n) && Math.abs(n) < 1e21 ? n.toFixed(0) : String(n);
}

/** One line for one record. */
export function toLine(r: TelemetryRecord, options: LineProtocolOptions): string {
  const tags: [string, string][] = [
    ['deviceId', r.deviceId],
    ['pointId', r.pointId],
    ['protocol', r.protocol],
    ['quality', r.quality.status],
  ];
  if (r.unit !== undefined) tags.push(['unit', r.unit]);
  const extra: Record<string, string> = { ...options.staticTags, ...r.tags };
  for (const [k, v] of Object.entries(extra)) if (!RESERVED_TAGS.has(k)) tags.push([k, v]);
  tags.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); // InfluxDB's recommended order
  let line = escapeMeasurement(options.measurement);
  for (const [k, v] of tags) if (v !== '') line += `,${escapeKey(k)}=${escapeKey(v)}`;
  const fields: string[] = [];
  const v = r.value;
  if (typeof v === 'number') fields.push(`value=${formatFloat(v)}`);
  else if (typeof v === 'boolean') fields.push(`value_bool=${v ? 'true' : 'false'}`);
  else if (typeof v === 'string') fields.push(`value_string=${escapeStringField(v)}`);
  fields.push(`seq=${Math.trunc(r.seq)}i`);
  fields.push(`received_at=${Math.trunc(r.receivedAt)}i`);
  if (r.quality.flags.length > 0) fields.push(`quality_flags=${escapeStringField(r.quality.flags.join(','))}`);
  return `${line} ${fields.join(',')} ${Math.trunc(r.ts)}`;
}
