/**
 * Outstation simulator configuration (JSON or YAML):
 *
 * ```yaml
 * listen: { host: 127.0.0.1, port: 20000 }
 * localAddress: 1024          # outstation link address
 * remoteAddress: 1            # master link address
 * allowUnsolicited: true
 * needTime: false
 * eventBufferSize: 100
 * maxFragmentSize: 2048
 * points:
 *   binaryInput:  [{ index: 0, value: true, flags: 0x81, class: 1 }]
 *   analogInput:  [{ index: 0, value: 230.5, class: 2, staticVariation: 5, eventVariation: 7, deadband: 0.5 }]
 *   counter:      [{ index: 0, value: 0, class: 3 }]
 * simulation:                 # optional: points change by themselves
 *   periodMs: 1000
 *   analogStep: 1.0           # random walk step of analog inputs
 *   counterStep: 10           # counters increase by up to this much
 *   binaryToggleProbability: 0.05
 * ```
 * `range: { start, count, value, ... }` entries expand to many points of the same settings.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { EnergyMeshError } from '../../../core/errors.ts';
import type { PointType } from '../codec/object-library.ts';
import type { DatabaseConfig, PointConfig } from '../outstation/database.ts';
import { STATIC_ORDER } from '../outstation/database.ts';

export interface SimulationConfig {
  periodMs: number;
  analogStep?: number;
  counterStep?: number;
  binaryToggleProbability?: number;
}

export interface SimulatorConfig {
  listen: { host: string; port: number };
  localAddress: number;
  remoteAddress: number;
  allowUnsolicited: boolean;
  needTime: boolean;
  maxFragmentSize: number;
  database: DatabaseConfig;
  simulation?: SimulationConfig;
}

type Json = Record<string, unknown>;

function fail(path: string, expected: string): never {
  throw new EnergyMeshError('CONFIG_INVALID', `DNP3 simulator config: ${path} must be ${expected}`, { details: { path, expected } });
}

function obj(v: unknown, path: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'an object');
  return v as Json;
}

function num(v: unknown, path: string, def?: number, min = -Infinity, max = Infinity): number {
  if (v === undefined && def !== undefined) return def;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) fail(path, `a number in [${min}, ${max}]`);
  return v;
}

function bool(v: unknown, path: string, def: boolean): boolean {
  if (v === undefined) return def;
  if (typeof v !== 'boolean') fail(path, 'true or false');
  return v;
}

function point(v: unknown, path: string): PointConfig[] {
  const o = obj(v, path);
  const value = o['value'];
  if (value !== undefined && typeof value !== 'number' && typeof value !== 'boolean') fail(`${path}.value`, 'a number or boolean');
  const cls = o['class'];
  if (cls !== undefined && cls !== 0 && cls !== 1 && cls !== 2 && cls !== 3) fail(`${path}.class`, '0, 1, 2 or 3');
  const base: Omit<PointConfig, 'index'> = {
    ...(value !== undefined ? { value } : {}),
    ...(o['flags'] !== undefined ? { flags: num(o['flags'], `${path}.flags`, undefined, 0, 255) } : {}),
    ...(cls !== undefined ? { class: cls } : {}),
    ...(o['staticVariation'] !== undefined ? { staticVariation: num(o['staticVariation'], `${path}.staticVariation`, undefined, 1, 255) } : {}),
    ...(o['eventVariation'] !== undefined ? { eventVariation: num(o['eventVariation'], `${path}.eventVariation`, undefined, 1, 255) } : {}),
    ...(o['deadband'] !== undefined ? { deadband: num(o['deadband'], `${path}.deadband`, undefined, 0) } : {}),
  };
  if (o['range'] !== undefined) {
    const r = obj(o['range'], `${path}.range`);
    const start = num(r['start'], `${path}.range.start`, 0, 0, 65535);
    const count = num(r['count'], `${path}.range.count`, undefined, 1, 65536 - start);
    return Array.from({ length: count }, (_, i) => ({ index: start + i, ...base }));
  }
  return [{ index: num(o['index'], `${path}.index`, undefined, 0, 65535), ...base }];
}

/** Validates a parsed config object. */
export function parseSimulatorConfig(raw: unknown): SimulatorConfig {
  const o = obj(raw, '$');
  const listen = obj(o['listen'] ?? {}, '$.listen');
  const points = obj(o['points'] ?? {}, '$.points');
  const database: DatabaseConfig = { eventBufferSize: num(o['eventBufferSize'], '$.eventBufferSize', 100, 1, 100_000) };
  for (const key of Object.keys(points)) {
    if (!STATIC_ORDER.includes(key as PointType)) fail(`$.points.${key}`, `one of ${STATIC_ORDER.join(', ')}`);
    const list = points[key];
    if (!Array.isArray(list)) fail(`$.points.${key}`, 'an array');
    database[key as PointType] = list.flatMap((p, i) => point(p, `$.points.${key}[${i}]`));
  }
  let simulation: SimulationConfig | undefined;
  if (o['simulation'] !== undefined) {
    const s = obj(o['simulation'], '$.simulation');
    simulation = {
      periodMs: num(s['periodMs'], '$.simulation.periodMs', 1000, 10),
      analogStep: num(s['analogStep'], '$.simulation.analogStep', 1, 0),
      counterStep: num(s['counterStep'], '$.simulation.counterStep', 10, 0),
      binaryToggleProbability: num(s['binaryToggleProbability'], '$.simulation.binaryToggleProbability', 0.05, 0, 1),
    };
  }
  const host = listen['host'] ?? '127.0.0.1';
  if (typeof host !== 'string') fail('$.listen.host', 'a string');
  return {
    listen: { host, port: num(listen['port'], '$.listen.port', 20000, 0, 65535) },
    localAddress: num(o['localAddress'], '$.localAddress', 1024, 0, 65519),
    remoteAddress: num(o['remoteAddress'], '$.remoteAddress', 1, 0, 65519),
    allowUnsolicited: bool(o['allowUnsolicited'], '$.allowUnsolicited', true),
    needTime: bool(o['needTime'], '$.needTime', false),
    maxFragmentSize: num(o['maxFragmentSize'], '$.maxFragmentSize', 2048, 249, 65536),
    database,
    ...(simulation ? { simulation } : {}),
  };
}

/** Reads a .json, .yaml or .yml file. */
export function loadSimulatorConfig(file: string): SimulatorConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new EnergyMeshError('CONFIG_NOT_FOUND', `DNP3 simulator config ${file} not readable`, { cause: e });
  }
  try {
    return parseSimulatorConfig(file.endsWith('.json') ? JSON.parse(text) : parseYaml(text));
  } catch (e) {
    if (e instanceof EnergyMeshError) throw new EnergyMeshError(e.code, `${file}: ${e.message}`, { details: { ...e.details, file }, cause: e });
    throw new EnergyMeshError('CONFIG_INVALID', `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}`, { cause: e });
  }
}
