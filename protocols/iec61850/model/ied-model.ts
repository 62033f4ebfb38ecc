/**
 * The IEC 61850 data model (IEC 61850-7-2/7-3) and its MMS mapping (IEC 61850-8-1 §8):
 * IED → LD (MMS domain `<IED><inst>`) → LN (`prefix+lnClass+inst`) → DO → DA, each DA with a functional
 * constraint. MMS variables are `LN$FC$DO$DA...`; datasets are `LN$name`; RCBs are `LN$RP|BR$name[NN]`.
 * Models come from SCL (scl.ts) or from discovery (GetNameList + GetVariableAccessAttributes).
 */
import type { MmsData, TypeSpec } from '../codec/mms-data.ts';
import type { OptFldName, TrgOpName } from '../codec/report.ts';

export type FunctionalConstraint =
  | 'ST' | 'MX' | 'SP' | 'SV' | 'CF' | 'DC' | 'SG' | 'SE' | 'SR' | 'OR' | 'BL' | 'EX' | 'CO' | 'US' | 'MS' | 'RP' | 'BR' | 'LG' | 'GO';

export const FUNCTIONAL_CONSTRAINTS: readonly FunctionalConstraint[] = ['ST', 'MX', 'SP', 'SV', 'CF', 'DC', 'SG', 'SE', 'SR', 'OR', 'BL', 'EX', 'CO', 'US', 'MS', 'RP', 'BR', 'LG', 'GO'];

export interface DataAttribute {
  name: string;
  fc: FunctionalConstraint;
  type: TypeSpec;
  /** SCL basic type (BOOLEAN, FLOAT32, Quality, Struct, Enum ...) when known. */
  bType?: string;
  /** Components of a constructed attribute, in order. */
  children: DataAttribute[];
  triggers?: { dchg?: boolean; qchg?: boolean; dupd?: boolean };
  /** Configured value from SCL (Val), already typed. */
  value?: MmsData;
}

export interface DataObject {
  name: string;
  cdc?: string;
  attributes: DataAttribute[];
  subObjects: DataObject[];
}

export interface FcdaRef {
  ldInst: string;
  /** LN name (prefix + class + inst). */
  ln: string;
  fc: FunctionalConstraint;
  /** DO name, SDOs joined with `.`. */
  doName: string;
  /** DA name, components joined with `.`; absent for a whole FCD. */
  daName?: string;
}

export interface DataSetDef {
  name: string;
  members: FcdaRef[];
}

export interface ReportControlDef {
  name: string;
  rptId: string;
  datSet: string;
  confRev: number;
  buffered: boolean;
  intgPd: number;
  bufTime: number;
  trgOps: TrgOpName[];
  optFields: OptFldName[];
  /** Number of instances (RptEnabled max); instance names get suffixes 01..max when indexed. */
  max: number;
  indexed: boolean;
}

export interface GseControlDef {
  name: string;
  appId: string;
  datSet: string;
  confRev: number;
}

export interface LogicalNode {
  name: string;
  lnClass: string;
  prefix: string;
  inst: string;
  dataObjects: DataObject[];
  dataSets: DataSetDef[];
  reportControls: ReportControlDef[];
  gseControls: GseControlDef[];
}

export interface LogicalDevice {
  /** MMS domain name: IED name + LD inst. */
  name: string;
  inst: string;
  logicalNodes: LogicalNode[];
}

export interface IedModel {
  name: string;
  logicalDevices: LogicalDevice[];
}

/** Sort key of one character: case-insensitive, digits after letters (the order libiec61850 lists names in). */
function charKey(code: number): number {
  if (code >= 65 && code <= 90) return code + 32;
  if (code >= 48 && code <= 57) return 0x7b + code - 48;
  return code;
}

function compareComponent(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = charKey(a.charCodeAt(i)) - charKey(b.charCodeAt(i));
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * Orders MMS names as GetNameList lists them: `$`-component by component, case-insensitive, digits after
 * letters, a prefix before its extensions (reproduces the 304-name list of the libiec61850 capture exactly).
 */
export function compareNames(a: string, b: string): number {
  const x = a.split('$');
  const y = b.split('$');
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = compareComponent(x[i] as string, y[i] as string);
    if (d !== 0) return d;
  }
  return x.length !== y.length ? x.length - y.length : a < b ? -1 : a > b ? 1 : 0;
}

/** `LN$FC$DO$DA` item id of an FCDA. */
export function fcdaItem(f: FcdaRef): string {
  const parts = [f.ln, f.fc, ...f.doName.split('.')];
  if (f.daName) parts.push(...f.daName.split('.'));
  return parts.join('$');
}

/** The MMS type of a DO restricted to one FC (undefined when the DO has nothing of that FC). */
export function doTypeForFc(d: DataObject, fc: FunctionalConstraint): TypeSpec | undefined {
  const components: { name: string; spec: TypeSpec }[] = [];
  for (const a of d.attributes) if (a.fc === fc) components.push({ name: a.name, spec: a.type });
  for (const s of d.subObjects) {
    const t = doTypeForFc(s, fc);
    if (t) components.push({ name: s.name, spec: t });
  }
  return components.length > 0 ? { type: 'structure', components } : undefined;
}

/** FCs present in an LN, in the order libiec61850 lays them out (MX, ST, CO, CF, DC, ...). */
const FC_ORDER: FunctionalConstraint[] = ['MX', 'ST', 'CO', 'CF', 'DC', 'SP', 'SV', 'SG', 'SE', 'SR', 'OR', 'BL', 'EX', 'US', 'MS', 'RP', 'BR', 'LG', 'GO'];

export function lnFcs(ln: LogicalNode): FunctionalConstraint[] {
  const present = new Set<FunctionalConstraint>();
  const walk = (d: DataObject): void => {
    for (const a of d.attributes) present.add(a.fc);
    d.subObjects.forEach(walk);
  };
  ln.dataObjects.forEach(walk);
  return FC_ORDER.filter((f) => present.has(f));
}

/** Type of `LN$FC` (a structure of DOs). */
export function lnFcType(ln: LogicalNode, fc: FunctionalConstraint): TypeSpec | undefined {
  const components: { name: string; spec: TypeSpec }[] = [];
  for (const d of ln.dataObjects) {
    const t = doTypeForFc(d, fc);
    if (t) components.push({ name: d.name, spec: t });
  }
  return components.length > 0 ? { type: 'structure', components } : undefined;
}

/** Type of the whole LN (structure of FCs). */
export function lnType(ln: LogicalNode, extra: { fc: FunctionalConstraint; type: TypeSpec }[] = []): TypeSpec {
  const components: { name: string; spec: TypeSpec }[] = [];
  for (const fc of lnFcs(ln)) {
    const t = lnFcType(ln, fc);
    if (t) components.push({ name: fc, spec: t });
  }
  for (const e of extra) components.push({ name: e.fc, spec: e.type });
  return { type: 'structure', components };
}

/** Resolves the type at a `$`-path below a type (components by name). */
export function typeAt(t: TypeSpec, path: readonly string[]): TypeSpec | undefined {
  let cur: TypeSpec | undefined = t;
  for (const p of path) {
    if (!cur || cur.type !== 'structure') return undefined;
    cur = cur.components.find((c) => c.name === p)?.spec;
  }
  return cur;
}

/** A default value of a type (zeroes, empty strings, 13-bit good quality...). */
export function defaultValue(t: TypeSpec): MmsData {
  switch (t.type) {
    case 'structure':
      return { type: 'structure', value: t.components.map((c) => defaultValue(c.spec)) };
    case 'array':
      return { type: 'array', value: Array.from({ length: t.elements }, () => defaultValue(t.element)) };
    case 'boolean':
      return { type: 'boolean', value: false };
    case 'bit-string': {
      const bits = Math.abs(t.size);
      return { type: 'bit-string', value: { bits, bytes: new Uint8Array(Math.ceil(bits / 8)) } };
    }
    case 'integer':
      return { type: 'integer', value: 0 };
    case 'unsigned':
      return { type: 'unsigned', value: 0 };
    case 'float':
      return t.formatWidth === 64 ? { type: 'float', value: 0, double: true } : { type: 'float', value: 0 };
    case 'octet-string':
      return { type: 'octet-string', value: new Uint8Array(t.size > 0 ? t.size : 0) };
    case 'visible-string':
      return { type: 'visible-string', value: '' };
    case 'mms-string':
      return { type: 'mms-string', value: '' };
    case 'generalized-time':
      return { type: 'generalized-time', value: '19700101000000.000Z' };
    case 'binary-time':
      return { type: 'binary-time', value: t.withDate ? { msOfDay: 0, days: 0 } : { msOfDay: 0 } };
    case 'utc-time':
      return { type: 'utc-time', value: { seconds: 0, fraction: 0, quality: 0 } };
    case 'bcd':
      return { type: 'bcd', value: 0 };
    case 'objId':
      return { type: 'objId', value: '0.0' };
  }
}

/** Finds a logical device by MMS domain name or by LD inst. */
export function findLd(m: IedModel, name: string): LogicalDevice | undefined {
  return m.logicalDevices.find((l) => l.name === name || l.inst === name);
}

export function findLn(ld: LogicalDevice, name: string): LogicalNode | undefined {
  return ld.logicalNodes.find((l) => l.name === name);
}

/** Every leaf DA of an LN as `[item, attribute]` (item = `LN$FC$DO$DA...`). */
export function leafAttributes(ln: LogicalNode): [string, DataAttribute][] {
  const out: [string, DataAttribute][] = [];
  const walkDa = (prefix: string, a: DataAttribute): void => {
    if (a.children.length === 0) out.push([prefix, a]);
    else for (const c of a.children) walkDa(`${prefix}$${c.name}`, c);
  };
  const walkDo = (path: string[], d: DataObject): void => {
    for (const a of d.attributes) walkDa([ln.name, a.fc, ...path, d.name, a.name].join('$'), a);
    for (const s of d.subObjects) walkDo([...path, d.name], s);
  };
  for (const d of ln.dataObjects) walkDo([], d);
  return out;
}
