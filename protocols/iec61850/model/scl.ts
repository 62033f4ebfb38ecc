/**
 * SCL import (IEC 61850-6): ICD/CID/SCD files → IedModel. Reads IED/AccessPoint/Server/LDevice/LN0/LN,
 * DataTypeTemplates (LNodeType, DOType with DA/SDO, DAType with BDA, EnumType), DOI/SDI/DAI values,
 * DataSet/FCDA, ReportControl (TrgOps, OptFields, RptEnabled), GSEControl, and Communication addresses.
 *
 * Error policy: throws EnergyMeshError CONFIG_INVALID naming the element that is wrong.
 */
import { readFileSync } from 'node:fs';
import { EnergyMeshError } from '../../../core/errors.ts';
import type { MmsData, TypeSpec } from '../codec/mms-data.ts';
import type { OptFldName, TrgOpName } from '../codec/report.ts';
import type {
  DataAttribute, DataObject, DataSetDef, FcdaRef, FunctionalConstraint, GseControlDef, IedModel, LogicalDevice, LogicalNode,
  ReportControlDef,
} from './ied-model.ts';
import { FUNCTIONAL_CONSTRAINTS } from './ied-model.ts';
import { childNamed, childrenNamed, parseXml } from './xml.ts';
import type { XmlElement } from './xml.ts';

export interface SclAddress {
  iedName: string;
  apName: string;
  ip?: string;
  params: Record<string, string>;
}

export interface SclGseAddress {
  iedName: string;
  ldInst: string;
  cbName: string;
  params: Record<string, string>;
}

export interface SclFile {
  iedNames: string[];
  addresses: SclAddress[];
  gse: SclGseAddress[];
  /** Builds the model of one IED (the first when no name is given). */
  model(iedName?: string): IedModel;
}

const invalid = (msg: string, el?: XmlElement): EnergyMeshError =>
  new EnergyMeshError('CONFIG_INVALID', `SCL: ${msg}${el ? ` (line ${el.line})` : ''}`, { details: el ? { line: el.line } : {} });

interface Templates {
  lnTypes: Map<string, XmlElement>;
  doTypes: Map<string, XmlElement>;
  daTypes: Map<string, XmlElement>;
  enums: Map<string, Map<string, number>>;
}

/** MMS type of an SCL basic type (IEC 61850-8-1 Table 17 / libiec61850's choices seen in the vectors). */
export function basicType(bType: string, el?: XmlElement): TypeSpec {
  const vis = /^VisString(\d+)$/.exec(bType);
  if (vis) return { type: 'visible-string', size: -Number(vis[1]) };
  const oct = /^Octet(\d+)$/.exec(bType);
  if (oct) return { type: 'octet-string', size: -Number(oct[1]) };
  const uni = /^Unicode(\d+)$/.exec(bType);
  if (uni) return { type: 'mms-string', size: -Number(uni[1]) };
  switch (bType) {
    case 'BOOLEAN':
      return { type: 'boolean' };
    case 'INT8':
      return { type: 'integer', size: 8 };
    case 'INT16':
      return { type: 'integer', size: 16 };
    case 'INT24':
    case 'INT32':
      return { type: 'integer', size: 32 };
    case 'INT64':
      return { type: 'integer', size: 64 };
    case 'INT128':
      return { type: 'integer', size: 128 };
    case 'INT8U':
      return { type: 'unsigned', size: 8 };
    case 'INT16U':
      return { type: 'unsigned', size: 16 };
    case 'INT24U':
    case 'INT32U':
      return { type: 'unsigned', size: 32 };
    case 'FLOAT32':
      return { type: 'float', formatWidth: 32, exponentWidth: 8 };
    case 'FLOAT64':
      return { type: 'float', formatWidth: 64, exponentWidth: 11 };
    case 'Enum':
      return { type: 'integer', size: 8 };
    case 'Dbpos':
    case 'Tcmd':
      return { type: 'bit-string', size: 2 };
    case 'Check':
      return { type: 'bit-string', size: -2 };
    case 'Quality':
      return { type: 'bit-string', size: -13 };
    case 'Timestamp':
      return { type: 'utc-time' };
    case 'EntryTime':
      return { type: 'binary-time', withDate: true };
    case 'ObjRef':
      return { type: 'visible-string', size: -129 };
    case 'Currency':
      return { type: 'visible-string', size: -3 };
    case 'OptFlds':
      return { type: 'bit-string', size: 10 };
    case 'TrgOps':
      return { type: 'bit-string', size: 6 };
    case 'EntryID':
      return { type: 'octet-string', size: 8 };
    case 'PhyComAddr':
      return { type: 'octet-string', size: -6 };
    default:
      throw invalid(`unsupported bType ${bType}`, el);
  }
}

function typedValue(t: TypeSpec, text: string, enumOrds: Map<string, number> | undefined, el: XmlElement): MmsData | undefined {
  const s = text.trim();
  switch (t.type) {
    case 'boolean':
      return { type: 'boolean', value: s === 'true' || s === '1' };
    case 'integer': {
      if (enumOrds) {
        const ord = enumOrds.get(s);
        if (ord === undefined && !/^-?\d+$/.test(s)) throw invalid(`unknown enum value ${s}`, el);
        return { type: 'integer', value: ord ?? Number(s) };
      }
      return { type: 'integer', value: Number(s) };
    }
    case 'unsigned':
      return { type: 'unsigned', value: Number(s) };
    case 'float':
      return t.formatWidth === 64 ? { type: 'float', value: Number(s), double: true } : { type: 'float', value: Number(s) };
    case 'visible-string':
      return { type: 'visible-string', value: s };
    case 'mms-string':
      return { type: 'mms-string', value: s };
    case 'octet-string':
      return { type: 'octet-string', value: new Uint8Array(Buffer.from(s, 'latin1')) };
    default:
      return undefined;
  }
}

function fcOf(v: string | undefined, el: XmlElement): FunctionalConstraint {
  if (v && (FUNCTIONAL_CONSTRAINTS as readonly string[]).includes(v)) return v as FunctionalConstraint;
  throw invalid(`bad functional constraint ${v}`, el);
}

const enumTypeOfAttr = new WeakMap<DataAttribute, string>();

function buildDa(el: XmlElement, t: Templates, fc: FunctionalConstraint, depth: number): DataAttribute {
  if (depth > 20) throw invalid('DAType nesting too deep', el);
  const name = el.attributes['name'];
  const bType = el.attributes['bType'];
  if (!name || !bType) throw invalid('DA/BDA needs name and bType', el);
  let children: DataAttribute[] = [];
  let type: TypeSpec;
  if (bType === 'Struct') {
    const dt = t.daTypes.get(el.attributes['type'] ?? '');
    if (!dt) throw invalid(`unknown DAType ${el.attributes['type']}`, el);
    children = childrenNamed(dt, 'BDA').map((b) => buildDa(b, t, fc, depth + 1));
    type = { type: 'structure', components: children.map((c) => ({ name: c.name, spec: c.type })) };
  } else type = basicType(bType, el);
  const count = Number(el.attributes['count'] ?? 0);
  if (count > 0) type = { type: 'array', elements: count, element: type };
  const da: DataAttribute = { name, fc, type, bType, children };
  if (bType === 'Enum' && el.attributes['type']) enumTypeOfAttr.set(da, el.attributes['type']);
  const trig = { dchg: el.attributes['dchg'] === 'true', qchg: el.attributes['qchg'] === 'true', dupd: el.attributes['dupd'] === 'true' };
  if (trig.dchg || trig.qchg || trig.dupd) {
    da.triggers = trig;
    // components inherit the trigger options of the attribute they belong to
    const inherit = (list: DataAttribute[]): void => list.forEach((c) => {
      c.triggers = { ...trig, ...c.triggers };
      inherit(c.children);
    });
    inherit(children);
  }
  const val = childNamed(el, 'Val');
  if (val) {
    const v = typedValue(type, val.text, bType === 'Enum' ? t.enums.get(el.attributes['type'] ?? '') : undefined, val);
    if (v) da.value = v;
  }
  return da;
}

function buildDo(name: string, typeId: string, t: Templates, depth: number, el: XmlElement): DataObject {
  if (depth > 10) throw invalid('DOType nesting too deep', el);
  const dt = t.doTypes.get(typeId);
  if (!dt) throw invalid(`unknown DOType ${typeId}`, el);
  const out: DataObject = { name, attributes: [], subObjects: [] };
  const cdc = dt.attributes['cdc'];
  if (cdc) out.cdc = cdc;
  for (const c of dt.children) {
    if (c.name === 'DA') out.attributes.push(buildDa(c, t, fcOf(c.attributes['fc'], c), 0));
    else if (c.name === 'SDO') out.subObjects.push(buildDo(c.attributes['name'] ?? '', c.attributes['type'] ?? '', t, depth + 1, c));
  }
  return out;
}

/** Applies DOI/SDI/DAI values to the DO tree. */
function applyInstanceValues(ln: LogicalNode, lnEl: XmlElement, t: Templates): void {
  const setDai = (attrs: DataAttribute[], dai: XmlElement): void => {
    const a = attrs.find((x) => x.name === dai.attributes['name']);
    const val = childNamed(dai, 'Val');
    if (!a || !val) return;
    const enumOrds = a.bType === 'Enum' ? findEnumFor(a, t) : undefined;
    const v = typedValue(a.type, val.text, enumOrds, val);
    if (v) a.value = v;
  };
  const walkSdi = (d: DataObject | undefined, attrs: DataAttribute[], el: XmlElement): void => {
    for (const c of el.children) {
      if (c.name === 'DAI') setDai(attrs, c);
      else if (c.name === 'SDI') {
        const sub = d?.subObjects.find((s) => s.name === c.attributes['name']);
        if (sub) walkSdi(sub, sub.attributes, c);
        else {
          const da = attrs.find((a) => a.name === c.attributes['name']);
          if (da) walkSdi(undefined, da.children, c);
        }
      }
    }
  };
  for (const doi of childrenNamed(lnEl, 'DOI')) {
    const d = ln.dataObjects.find((x) => x.name === doi.attributes['name']);
    if (d) walkSdi(d, d.attributes, doi);
  }
}

function findEnumFor(a: DataAttribute, t: Templates): Map<string, number> | undefined {
  const id = enumTypeOfAttr.get(a);
  return id ? t.enums.get(id) : undefined;
}

const TRG: Record<string, TrgOpName> = { dchg: 'dchg', qchg: 'qchg', dupd: 'dupd', period: 'integrity', gi: 'gi' };
const OPT: Record<string, OptFldName> = {
  seqNum: 'seqNum', timeStamp: 'timeStamp', reasonCode: 'reasonCode', dataSet: 'dataSet', dataRef: 'dataRef', bufOvfl: 'bufOvfl',
  entryID: 'entryId', configRef: 'confRev', segmentation: 'segmentation',
};

function buildLn(el: XmlElement, t: Templates, ldInst: string): LogicalNode {
  const lnClass = el.attributes['lnClass'] ?? '';
  const prefix = el.attributes['prefix'] ?? '';
  const inst = el.attributes['inst'] ?? '';
  const lnType = t.lnTypes.get(el.attributes['lnType'] ?? '');
  if (!lnType) throw invalid(`unknown LNodeType ${el.attributes['lnType']}`, el);
  const ln: LogicalNode = {
    name: `${prefix}${lnClass}${inst}`,
    lnClass,
    prefix,
    inst,
    dataObjects: childrenNamed(lnType, 'DO').map((d) => buildDo(d.attributes['name'] ?? '', d.attributes['type'] ?? '', t, 0, d)),
    dataSets: [],
    reportControls: [],
    gseControls: [],
  };
  applyInstanceValues(ln, el, t);
  for (const ds of childrenNamed(el, 'DataSet')) {
    const def: DataSetDef = { name: ds.attributes['name'] ?? '', members: [] };
    for (const f of childrenNamed(ds, 'FCDA')) {
      const ref: FcdaRef = {
        ldInst: f.attributes['ldInst'] ?? ldInst,
        ln: `${f.attributes['prefix'] ?? ''}${f.attributes['lnClass'] ?? ''}${f.attributes['lnInst'] ?? ''}`,
        fc: fcOf(f.attributes['fc'], f),
        doName: f.attributes['doName'] ?? '',
      };
      if (f.attributes['daName']) ref.daName = f.attributes['daName'];
      def.members.push(ref);
    }
    ln.dataSets.push(def);
  }
  for (const rc of childrenNamed(el, 'ReportControl')) {
    const trg = childNamed(rc, 'TrgOps');
    const opt = childNamed(rc, 'OptFields');
    const en = childNamed(rc, 'RptEnabled');
    const def: ReportControlDef = {
      name: rc.attributes['name'] ?? '',
      rptId: rc.attributes['rptID'] ?? '',
      datSet: rc.attributes['datSet'] ?? '',
      confRev: Number(rc.attributes['confRev'] ?? 1),
      buffered: rc.attributes['buffered'] === 'true',
      intgPd: Number(rc.attributes['intgPd'] ?? 0),
      bufTime: Number(rc.attributes['bufTime'] ?? 0),
      trgOps: trg ? Object.entries(TRG).filter(([k]) => trg.attributes[k] === 'true').map(([, v]) => v) : [],
      optFields: opt ? Object.entries(OPT).filter(([k]) => opt.attributes[k] === 'true').map(([, v]) => v) : [],
      max: Number(en?.attributes['max'] ?? 1),
      indexed: rc.attributes['indexed'] !== 'false',
    };
    if (!def.trgOps.includes('gi')) def.trgOps.push('gi');
    ln.reportControls.push(def);
  }
  for (const g of childrenNamed(el, 'GSEControl')) {
    const def: GseControlDef = { name: g.attributes['name'] ?? '', appId: g.attributes['appID'] ?? '', datSet: g.attributes['datSet'] ?? '', confRev: Number(g.attributes['confRev'] ?? 1) };
    ln.gseControls.push(def);
  }
  return ln;
}

function params(el: XmlElement | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (el) for (const p of childrenNamed(el, 'P')) out[p.attributes['type'] ?? ''] = p.text.trim();
  return out;
}

/** Parses SCL text. */
export function parseScl(xml: string): SclFile {
  const root = parseXml(xml);
  if (root.name !== 'SCL') throw invalid(`root element is <${root.name}>, not <SCL>`, root);
  const dtt = childNamed(root, 'DataTypeTemplates');
  const t: Templates = { lnTypes: new Map(), doTypes: new Map(), daTypes: new Map(), enums: new Map() };
  if (dtt) {
    for (const c of dtt.children) {
      const id = c.attributes['id'] ?? '';
      if (c.name === 'LNodeType') t.lnTypes.set(id, c);
      else if (c.name === 'DOType') t.doTypes.set(id, c);
      else if (c.name === 'DAType') t.daTypes.set(id, c);
      else if (c.name === 'EnumType') t.enums.set(id, new Map(childrenNamed(c, 'EnumVal').map((e) => [e.text.trim(), Number(e.attributes['ord'])])));
    }
  }
  const ieds = childrenNamed(root, 'IED');
  const addresses: SclAddress[] = [];
  const gse: SclGseAddress[] = [];
  const comm = childNamed(root, 'Communication');
  for (const sn of comm ? childrenNamed(comm, 'SubNetwork') : []) {
    for (const cap of childrenNamed(sn, 'ConnectedAP')) {
      const p = params(childNamed(cap, 'Address'));
      const a: SclAddress = { iedName: cap.attributes['iedName'] ?? '', apName: cap.attributes['apName'] ?? '', params: p };
      if (p['IP']) a.ip = p['IP'];
      addresses.push(a);
      for (const g of childrenNamed(cap, 'GSE')) {
        gse.push({ iedName: a.iedName, ldInst: g.attributes['ldInst'] ?? '', cbName: g.attributes['cbName'] ?? '', params: params(childNamed(g, 'Address')) });
      }
    }
  }
  return {
    iedNames: ieds.map((i) => i.attributes['name'] ?? ''),
    addresses,
    gse,
    model(iedName?: string): IedModel {
      const ied = iedName === undefined ? ieds[0] : ieds.find((i) => i.attributes['name'] === iedName);
      if (!ied) throw invalid(`no IED named ${iedName ?? '(any)'}`);
      const name = ied.attributes['name'] ?? '';
      const lds: LogicalDevice[] = [];
      for (const ap of childrenNamed(ied, 'AccessPoint')) {
        const server = childNamed(ap, 'Server');
        if (!server) continue;
        for (const ld of childrenNamed(server, 'LDevice')) {
          const inst = ld.attributes['inst'] ?? '';
          const lns: LogicalNode[] = [];
          for (const c of ld.children) if (c.name === 'LN0' || c.name === 'LN') lns.push(buildLn(c, t, inst));
          lds.push({ name: `${name}${inst}`, inst, logicalNodes: lns });
        }
      }
      return { name, logicalDevices: lds };
    },
  };
}

export function loadSclFile(path: string): SclFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new EnergyMeshError('CONFIG_NOT_FOUND', `SCL file ${path} cannot be read`, { cause: e });
  }
  return parseScl(text);
}
