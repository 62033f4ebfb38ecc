/**
 * MMS PDUs (ISO 9506-2) used by IEC 61850-8-1.
 *
 *   MMSpdu ::= CHOICE { confirmed-RequestPDU [0] { invokeID Unsigned32, ConfirmedServiceRequest },
 *     confirmed-ResponsePDU [1] { invokeID, ConfirmedServiceResponse }, confirmed-ErrorPDU [2] { invokeID [0],
 *     modifierPosition [1] OPT, serviceError [2] ServiceError }, unconfirmed-PDU [3] { informationReport [0] },
 *     rejectPDU [4] { originalInvokeID [0] OPT, rejectReason CHOICE [1..] }, initiate-RequestPDU [8],
 *     initiate-ResponsePDU [9], initiate-ErrorPDU [10], conclude-RequestPDU [11] NULL, conclude-ResponsePDU [12] NULL,
 *     conclude-ErrorPDU [13] }
 *   services (tags): getNameList 1, identify 2, read 4, write 5, getVariableAccessAttributes 6,
 *     defineNamedVariableList 11, getNamedVariableListAttributes 12, deleteNamedVariableList 13,
 *     fileOpen 72, fileRead 73, fileClose 74, fileDelete 76, fileDirectory 77
 *   ObjectName ::= CHOICE { vmd-specific [0] Identifier, domain-specific [1] { domainId, itemId }, aa-specific [2] }
 *   VariableAccessSpecification ::= CHOICE { listOfVariable [0] SEQUENCE OF { variableSpecification CHOICE { name [0] ObjectName } },
 *     variableListName [1] ObjectName }
 *
 * Optional fields with DEFAULT values follow libiec61850: moreFollows TRUE is omitted in GetNameList and FileRead responses.
 * Error policy: the codec throws FRAME_TRUNCATED / FRAME_MALFORMED.
 */
import {
  CONTEXT, UNIVERSAL, bitStringContent, boolContent, children, ctxC, ctxP, decodeBitString, decodeBool, decodeInt, decodeString,
  decodeUint, expect, find, intContent, malformed, readSingle, seq, stringContent, tlv,
} from './ber.ts';
import type { BitString, Tlv } from './ber.ts';
import { decodeAccessResult, decodeData, decodeTypeSpec, encodeAccessResult, encodeData, encodeTypeSpec } from './mms-data.ts';
import type { AccessResult, MmsData, TypeSpec } from './mms-data.ts';

export type ObjectName =
  | { scope: 'vmd'; item: string }
  | { scope: 'domain'; domain: string; item: string }
  | { scope: 'aa'; item: string };

export type VariableAccessSpec = { type: 'list'; variables: ObjectName[] } | { type: 'named'; name: ObjectName };

export type NameListScope = { type: 'vmd' } | { type: 'domain'; domain: string } | { type: 'aa' };

/** ObjectClass values of GetNameList. */
export const ObjectClass = { namedVariable: 0, namedVariableList: 2, journal: 8, domain: 9 } as const;

export interface InitiateParams {
  localDetail?: number;
  maxServOutstandingCalling: number;
  maxServOutstandingCalled: number;
  dataStructureNestingLevel?: number;
  version: number;
  parameterCbb: BitString;
  servicesSupported: BitString;
}

export interface ServiceError {
  errorClass: number;
  code: number;
  additionalCode?: number;
  description?: string;
}

/** ServiceError classes. */
export const ErrorClass = {
  vmdState: 0, applicationReference: 1, definition: 2, resource: 3, service: 4, servicePreempt: 5, timeResolution: 6,
  access: 7, initiate: 8, conclude: 9, cancel: 10, file: 11, others: 12,
} as const;

export interface FileAttributes {
  size: number;
  lastModified?: string;
}

export interface DirectoryEntry {
  name: string;
  attributes: FileAttributes;
}

export interface NamedVariableListAttributes {
  deletable: boolean;
  variables: ObjectName[];
}

export type ConfirmedRequest =
  | { service: 'identify' }
  | { service: 'getNameList'; objectClass: number; scope: NameListScope; continueAfter?: string }
  | { service: 'read'; specificationWithResult?: boolean; spec: VariableAccessSpec }
  | { service: 'write'; spec: VariableAccessSpec; data: MmsData[] }
  | { service: 'getVariableAccessAttributes'; name: ObjectName }
  | { service: 'defineNamedVariableList'; name: ObjectName; variables: ObjectName[] }
  | { service: 'getNamedVariableListAttributes'; name: ObjectName }
  | { service: 'deleteNamedVariableList'; scope?: number; names: ObjectName[]; domain?: string }
  | { service: 'fileOpen'; fileName: string; initialPosition: number }
  | { service: 'fileRead'; frsmId: number }
  | { service: 'fileClose'; frsmId: number }
  | { service: 'fileDelete'; fileName: string }
  | { service: 'fileDirectory'; fileSpec?: string; continueAfter?: string };

export type ConfirmedResponse =
  | { service: 'identify'; vendor: string; model: string; revision: string }
  | { service: 'getNameList'; identifiers: string[]; moreFollows: boolean }
  | { service: 'read'; spec?: VariableAccessSpec; results: AccessResult[] }
  | { service: 'write'; results: ({ type: 'success' } | { type: 'failure'; error: number })[] }
  | { service: 'getVariableAccessAttributes'; deletable: boolean; typeSpec: TypeSpec }
  | { service: 'defineNamedVariableList' }
  | ({ service: 'getNamedVariableListAttributes' } & NamedVariableListAttributes)
  | { service: 'deleteNamedVariableList'; matched: number; deleted: number }
  | { service: 'fileOpen'; frsmId: number; attributes: FileAttributes }
  | { service: 'fileRead'; data: Uint8Array; moreFollows: boolean }
  | { service: 'fileClose' }
  | { service: 'fileDelete' }
  | { service: 'fileDirectory'; entries: DirectoryEntry[]; moreFollows: boolean };

export type ServiceName = ConfirmedRequest['service'];

export interface InformationReport {
  spec: VariableAccessSpec;
  results: AccessResult[];
}

export type MmsPdu =
  | { kind: 'confirmed-request'; invokeId: number; request: ConfirmedRequest }
  | { kind: 'confirmed-response'; invokeId: number; response: ConfirmedResponse }
  | { kind: 'confirmed-error'; invokeId: number; error: ServiceError }
  | { kind: 'information-report'; report: InformationReport }
  | { kind: 'reject'; invokeId?: number; reasonType: number; reason: number }
  | ({ kind: 'initiate-request' } & InitiateParams)
  | ({ kind: 'initiate-response' } & InitiateParams)
  | { kind: 'initiate-error'; error: ServiceError }
  | { kind: 'conclude-request' }
  | { kind: 'conclude-response' }
  | { kind: 'conclude-error'; error: ServiceError };

const SERVICE_TAGS: Record<ServiceName, number> = {
  getNameList: 1, identify: 2, read: 4, write: 5, getVariableAccessAttributes: 6, defineNamedVariableList: 11,
  getNamedVariableListAttributes: 12, deleteNamedVariableList: 13, fileOpen: 72, fileRead: 73, fileClose: 74,
  fileDelete: 76, fileDirectory: 77,
};
const SERVICE_BY_TAG = new Map<number, ServiceName>(Object.entries(SERVICE_TAGS).map(([k, v]) => [v, k as ServiceName]));

// ---------------------------------------------------------------------------------------------
// helpers

const vis = (s: string): Uint8Array => tlv(UNIVERSAL, false, 26, stringContent(s));

function visString(t: Tlv | undefined, what: string): string {
  if (t === undefined || t.cls !== UNIVERSAL || (t.tag !== 26 && t.tag !== 25 && t.tag !== 12)) throw malformed(`MMS: expected a string for ${what}`);
  return decodeString(t.value);
}

export function encodeObjectName(n: ObjectName): Uint8Array {
  switch (n.scope) {
    case 'vmd':
      return ctxP(0, stringContent(n.item));
    case 'domain':
      return ctxC(1, vis(n.domain), vis(n.item));
    case 'aa':
      return ctxP(2, stringContent(n.item));
  }
}

export function decodeObjectName(t: Tlv | undefined): ObjectName {
  if (t === undefined || t.cls !== CONTEXT) throw malformed('MMS: missing ObjectName');
  if (t.tag === 0 && !t.constructed) return { scope: 'vmd', item: decodeString(t.value) };
  if (t.tag === 2 && !t.constructed) return { scope: 'aa', item: decodeString(t.value) };
  if (t.tag === 1 && t.constructed) {
    const [d, i] = children(t);
    return { scope: 'domain', domain: visString(d, 'domainId'), item: visString(i, 'itemId') };
  }
  throw malformed('MMS: bad ObjectName', { tag: t.tag });
}

/** `domain/item` for domain-specific names, the item alone otherwise. */
export function objectNameToString(n: ObjectName): string {
  return n.scope === 'domain' ? `${n.domain}/${n.item}` : n.item;
}

function encodeVariableList(vars: readonly ObjectName[]): Uint8Array[] {
  return vars.map((v) => seq(ctxC(0, encodeObjectName(v))));
}

function decodeVariableList(t: Tlv): ObjectName[] {
  return children(t).map((s) => {
    const spec = children(expect(s, UNIVERSAL, 16, 'variable list entry'))[0];
    if (spec === undefined || spec.cls !== CONTEXT || spec.tag !== 0) throw malformed('MMS: only named variable specifications are supported');
    return decodeObjectName(children(spec)[0]);
  });
}

export function encodeVariableAccessSpec(s: VariableAccessSpec): Uint8Array {
  return s.type === 'list' ? ctxC(0, ...encodeVariableList(s.variables)) : ctxC(1, encodeObjectName(s.name));
}

export function decodeVariableAccessSpec(t: Tlv | undefined): VariableAccessSpec {
  if (t === undefined || t.cls !== CONTEXT) throw malformed('MMS: missing VariableAccessSpecification');
  if (t.tag === 0) return { type: 'list', variables: decodeVariableList(t) };
  if (t.tag === 1) return { type: 'named', name: decodeObjectName(children(t)[0]) };
  throw malformed('MMS: bad VariableAccessSpecification', { tag: t.tag });
}

function encodeFileName(name: string): Uint8Array {
  return tlv(UNIVERSAL, false, 25, stringContent(name));
}

function decodeFileName(t: Tlv): string {
  return children(t).map((c) => visString(c, 'file name')).join('');
}

function encodeFileAttributes(a: FileAttributes): Uint8Array[] {
  const parts = [ctxP(0, intContent(a.size))];
  if (a.lastModified !== undefined) parts.push(ctxP(1, stringContent(a.lastModified)));
  return parts;
}

function decodeFileAttributes(t: Tlv): FileAttributes {
  const kids = children(t);
  const out: FileAttributes = { size: decodeUint(expect(find(kids, CONTEXT, 0), CONTEXT, 0, 'sizeOfFile').value) };
  const lm = find(kids, CONTEXT, 1);
  if (lm) out.lastModified = decodeString(lm.value);
  return out;
}

function encodeServiceError(e: ServiceError): Uint8Array[] {
  const parts = [ctxC(0, ctxP(e.errorClass, intContent(e.code)))];
  if (e.additionalCode !== undefined) parts.push(ctxP(1, intContent(e.additionalCode)));
  if (e.description !== undefined) parts.push(ctxP(2, stringContent(e.description)));
  return parts;
}

function decodeServiceError(kids: Tlv[]): ServiceError {
  const cls = children(expect(find(kids, CONTEXT, 0), CONTEXT, 0, 'errorClass'))[0];
  if (cls === undefined) throw malformed('MMS: empty errorClass');
  const out: ServiceError = { errorClass: cls.tag, code: decodeInt(cls.value) };
  const ac = find(kids, CONTEXT, 1);
  const ad = find(kids, CONTEXT, 2);
  if (ac) out.additionalCode = decodeInt(ac.value);
  if (ad) out.description = decodeString(ad.value);
  return out;
}

function encodeInitiate(p: InitiateParams): Uint8Array[] {
  const parts: Uint8Array[] = [];
  if (p.localDetail !== undefined) parts.push(ctxP(0, intContent(p.localDetail)));
  parts.push(ctxP(1, intContent(p.maxServOutstandingCalling)), ctxP(2, intContent(p.maxServOutstandingCalled)));
  if (p.dataStructureNestingLevel !== undefined) parts.push(ctxP(3, intContent(p.dataStructureNestingLevel)));
  parts.push(ctxC(4, ctxP(0, intContent(p.version)), ctxP(1, bitStringContent(p.parameterCbb)), ctxP(2, bitStringContent(p.servicesSupported))));
  return parts;
}

function decodeInitiate(kids: Tlv[]): InitiateParams {
  const num = (tag: number): number | undefined => {
    const t = find(kids, CONTEXT, tag);
    return t ? decodeUint(t.value) : undefined;
  };
  const detail = children(expect(find(kids, CONTEXT, 4), CONTEXT, 4, 'init detail'));
  const out: InitiateParams = {
    maxServOutstandingCalling: num(1) ?? 1,
    maxServOutstandingCalled: num(2) ?? 1,
    version: decodeUint(expect(find(detail, CONTEXT, 0), CONTEXT, 0, 'version').value),
    parameterCbb: decodeBitString(expect(find(detail, CONTEXT, 1), CONTEXT, 1, 'parameterCBB').value),
    servicesSupported: decodeBitString(expect(find(detail, CONTEXT, 2), CONTEXT, 2, 'servicesSupported').value),
  };
  const ld = num(0);
  const nl = num(3);
  if (ld !== undefined) out.localDetail = ld;
  if (nl !== undefined) out.dataStructureNestingLevel = nl;
  return out;
}

// ---------------------------------------------------------------------------------------------
// requests

function encodeRequestBody(r: ConfirmedRequest): Uint8Array {
  const tag = SERVICE_TAGS[r.service];
  switch (r.service) {
    case 'identify':
      return ctxP(tag, new Uint8Array(0));
    case 'getNameList': {
      const scope = r.scope.type === 'vmd' ? ctxP(0, new Uint8Array(0)) : r.scope.type === 'domain' ? ctxP(1, stringContent(r.scope.domain)) : ctxP(2, new Uint8Array(0));
      const parts = [ctxC(0, ctxP(0, intContent(r.objectClass))), ctxC(1, scope)];
      if (r.continueAfter !== undefined) parts.push(ctxP(2, stringContent(r.continueAfter)));
      return ctxC(tag, ...parts);
    }
    case 'read': {
      const parts: Uint8Array[] = [];
      if (r.specificationWithResult) parts.push(ctxP(0, boolContent(true)));
      parts.push(ctxC(1, encodeVariableAccessSpec(r.spec)));
      return ctxC(tag, ...parts);
    }
    case 'write':
      return ctxC(tag, encodeVariableAccessSpec(r.spec), ctxC(0, ...r.data.map((d) => encodeData(d))));
    case 'getVariableAccessAttributes':
      return ctxC(tag, ctxC(0, encodeObjectName(r.name)));
    case 'defineNamedVariableList':
      return ctxC(tag, encodeObjectName(r.name), ctxC(0, ...encodeVariableList(r.variables)));
    case 'getNamedVariableListAttributes':
      return ctxC(tag, encodeObjectName(r.name));
    case 'deleteNamedVariableList': {
      const parts = [ctxP(0, intContent(r.scope ?? 0))];
      if (r.names.length > 0) parts.push(ctxC(1, ...r.names.map(encodeObjectName)));
      if (r.domain !== undefined) parts.push(ctxP(2, stringContent(r.domain)));
      return ctxC(tag, ...parts);
    }
    case 'fileOpen':
      return ctxC(tag, ctxC(0, encodeFileName(r.fileName)), ctxP(1, intContent(r.initialPosition)));
    case 'fileRead':
    case 'fileClose':
      return ctxP(tag, intContent(r.frsmId));
    case 'fileDelete':
      return ctxC(tag, encodeFileName(r.fileName));
    case 'fileDirectory': {
      const parts: Uint8Array[] = [];
      if (r.fileSpec !== undefined) parts.push(ctxC(0, encodeFileName(r.fileSpec)));
      if (r.continueAfter !== undefined) parts.push(ctxC(1, encodeFileName(r.continueAfter)));
      return ctxC(tag, ...parts);
    }
  }
}

function decodeRequestBody(t: Tlv): ConfirmedRequest {
  const service = t.cls === CONTEXT ? SERVICE_BY_TAG.get(t.tag) : undefined;
  if (service === undefined) throw malformed('MMS: unsupported confirmed service', { tag: t.tag });
  switch (service) {
    case 'identify':
      return { service };
    case 'getNameList': {
      const kids = children(t);
      const oc = children(expect(find(kids, CONTEXT, 0), CONTEXT, 0, 'objectClass'))[0];
      const sc = children(expect(find(kids, CONTEXT, 1), CONTEXT, 1, 'objectScope'))[0];
      if (!oc || !sc) throw malformed('MMS: incomplete GetNameList request');
      const scope: NameListScope = sc.tag === 1 ? { type: 'domain', domain: decodeString(sc.value) } : sc.tag === 2 ? { type: 'aa' } : { type: 'vmd' };
      const out: ConfirmedRequest = { service, objectClass: decodeUint(oc.value), scope };
      const ca = find(kids, CONTEXT, 2);
      if (ca) out.continueAfter = decodeString(ca.value);
      return out;
    }
    case 'read': {
      const kids = children(t);
      const swr = find(kids, CONTEXT, 0);
      const spec = decodeVariableAccessSpec(children(expect(find(kids, CONTEXT, 1), CONTEXT, 1, 'variableAccessSpecification'))[0]);
      return swr ? { service, specificationWithResult: decodeBool(swr.value), spec } : { service, spec };
    }
    case 'write': {
      const kids = children(t);
      const spec = decodeVariableAccessSpec(kids[0]);
      const list = expect(kids[1], CONTEXT, 0, 'listOfData');
      return { service, spec, data: children(list).map((d) => decodeData(d)) };
    }
    case 'getVariableAccessAttributes': {
      const n = expect(children(t)[0], CONTEXT, 0, 'name');
      return { service, name: decodeObjectName(children(n)[0]) };
    }
    case 'defineNamedVariableList': {
      const kids = children(t);
      return { service, name: decodeObjectName(kids[0]), variables: decodeVariableList(expect(kids[1], CONTEXT, 0, 'listOfVariable')) };
    }
    case 'getNamedVariableListAttributes':
      return { service, name: decodeObjectName(children(t)[0]) };
    case 'deleteNamedVariableList': {
      const kids = children(t);
      const sc = find(kids, CONTEXT, 0);
      const list = find(kids, CONTEXT, 1);
      const dom = find(kids, CONTEXT, 2);
      const out: ConfirmedRequest = { service, scope: sc ? decodeUint(sc.value) : 0, names: list ? children(list).map((c) => decodeObjectName(c)) : [] };
      if (dom) out.domain = decodeString(dom.value);
      return out;
    }
    case 'fileOpen': {
      const kids = children(t);
      return { service, fileName: decodeFileName(expect(find(kids, CONTEXT, 0), CONTEXT, 0, 'fileName')), initialPosition: decodeUint(expect(find(kids, CONTEXT, 1), CONTEXT, 1, 'initialPosition').value) };
    }
    case 'fileRead':
    case 'fileClose':
      return { service, frsmId: decodeInt(t.value) };
    case 'fileDelete':
      return { service, fileName: decodeFileName(t) };
    case 'fileDirectory': {
      const kids = children(t);
      const fs = find(kids, CONTEXT, 0);
      const ca = find(kids, CONTEXT, 1);
      const out: ConfirmedRequest = { service };
      if (fs) out.fileSpec = decodeFileName(fs);
      if (ca) out.continueAfter = decodeFileName(ca);
      return out;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// responses

function encodeResponseBody(r: ConfirmedResponse): Uint8Array {
  const tag = SERVICE_TAGS[r.service];
  switch (r.service) {
    case 'identify':
      return ctxC(tag, ctxP(0, stringContent(r.vendor)), ctxP(1, stringContent(r.model)), ctxP(2, stringContent(r.revision)));
    case 'getNameList': {
      const parts = [ctxC(0, ...r.identifiers.map(vis))];
      if (!r.moreFollows) parts.push(ctxP(1, boolContent(false)));
      return ctxC(tag, ...parts);
    }
    case 'read': {
      const parts: Uint8Array[] = [];
      if (r.spec) parts.push(ctxC(0, encodeVariableAccessSpec(r.spec)));
      parts.push(ctxC(1, ...r.results.map(encodeAccessResult)));
      return ctxC(tag, ...parts);
    }
    case 'write':
      return ctxC(tag, ...r.results.map((x) => (x.type === 'success' ? ctxP(1, new Uint8Array(0)) : ctxP(0, intContent(x.error)))));
    case 'getVariableAccessAttributes':
      return ctxC(tag, ctxP(0, boolContent(r.deletable)), ctxC(2, encodeTypeSpec(r.typeSpec)));
    case 'defineNamedVariableList':
      return ctxP(tag, new Uint8Array(0));
    case 'getNamedVariableListAttributes':
      return ctxC(tag, ctxP(0, boolContent(r.deletable)), ctxC(1, ...encodeVariableList(r.variables)));
    case 'deleteNamedVariableList':
      return ctxC(tag, ctxP(0, intContent(r.matched)), ctxP(1, intContent(r.deleted)));
    case 'fileOpen':
      return ctxC(tag, ctxP(0, intContent(r.frsmId)), ctxC(1, ...encodeFileAttributes(r.attributes)));
    case 'fileRead': {
      const parts = [ctxP(0, r.data)];
      if (!r.moreFollows) parts.push(ctxP(1, boolContent(false)));
      return ctxC(tag, ...parts);
    }
    case 'fileClose':
    case 'fileDelete':
      return ctxP(tag, new Uint8Array(0));
    case 'fileDirectory': {
      const parts = [ctxC(0, seq(...r.entries.map((e) => seq(ctxC(0, encodeFileName(e.name)), ctxC(1, ...encodeFileAttributes(e.attributes))))))];
      if (r.moreFollows) parts.push(ctxP(1, boolContent(true)));
      return ctxC(tag, ...parts);
    }
  }
}

function decodeResponseBody(t: Tlv): ConfirmedResponse {
  const service = t.cls === CONTEXT ? SERVICE_BY_TAG.get(t.tag) : undefined;
  if (service === undefined) throw malformed('MMS: unsupported confirmed service response', { tag: t.tag });
  switch (service) {
    case 'identify': {
      const kids = children(t);
      const s = (tag: number): string => {
        const x = find(kids, CONTEXT, tag);
        return x ? decodeString(x.value) : '';
      };
      return { service, vendor: s(0), model: s(1), revision: s(2) };
    }
    case 'getNameList': {
      const kids = children(t);
      const list = expect(find(kids, CONTEXT, 0), CONTEXT, 0, 'listOfIdentifier');
      const mf = find(kids, CONTEXT, 1);
      return { service, identifiers: children(list).map((c) => visString(c, 'identifier')), moreFollows: mf ? decodeBool(mf.value) : true };
    }
    case 'read': {
      const kids = children(t);
      const spec = find(kids, CONTEXT, 0);
      const results = children(expect(find(kids, CONTEXT, 1), CONTEXT, 1, 'listOfAccessResult')).map(decodeAccessResult);
      return spec ? { service, spec: decodeVariableAccessSpec(children(spec)[0]), results } : { service, results };
    }
    case 'write':
      return {
        service,
        results: children(t).map((c) => {
          if (c.cls === CONTEXT && c.tag === 1) return { type: 'success' as const };
          if (c.cls === CONTEXT && c.tag === 0) return { type: 'failure' as const, error: decodeUint(c.value) };
          throw malformed('MMS: bad Write response item', { tag: c.tag });
        }),
      };
    case 'getVariableAccessAttributes': {
      const kids = children(t);
      const del = expect(find(kids, CONTEXT, 0), CONTEXT, 0, 'mmsDeletable');
      const ts = children(expect(find(kids, CONTEXT, 2), CONTEXT, 2, 'typeSpecification'))[0];
      if (!ts) throw malformed('MMS: empty typeSpecification');
      return { service, deletable: decodeBool(del.value), typeSpec: decodeTypeSpec(ts) };
    }
    case 'defineNamedVariableList':
      return { service };
    case 'getNamedVariableListAttributes': {
      const kids = children(t);
      return {
        service,
        deletable: decodeBool(expect(find(kids, CONTEXT, 0), CONTEXT, 0, 'mmsDeletable').value),
        variables: decodeVariableList(expect(find(kids, CONTEXT, 1), CONTEXT, 1, 'listOfVariable')),
      };
    }
    case 'deleteNamedVariableList': {
      const kids = children(t);
      return { service, matched: decodeUint(expect(find(kids, CONTEXT, 0), CONTEXT, 0, 'numberMatched').value), deleted: decodeUint(expect(find(kids, CONTEXT, 1), CONTEXT, 1, 'numberDeleted').value) };
    }
    case 'fileOpen': {
      const kids = children(t);
      return { service, frsmId: decodeInt(expect(find(kids, CONTEXT, 0), CONTEXT, 0, 'frsmID').value), attributes: decodeFileAttributes(expect(find(kids, CONTEXT, 1), CONTEXT, 1, 'fileAttributes')) };
    }
    case 'fileRead': {
      const kids = children(t);
      const mf = find(kids, CONTEXT, 1);
      return { service, data: expect(find(kids, CONTEXT, 0), CONTEXT, 0, 'fileData').value.slice(), moreFollows: mf ? decodeBool(mf.value) : true };
    }
    case 'fileClose':
    case 'fileDelete':
      return { service };
    case 'fileDirectory': {
      const kids = children(t);
      const list = find(kids, CONTEXT, 0);
      const mf = find(kids, CONTEXT, 1);
      const inner = list ? children(list)[0] : undefined;
      const entries = (inner ? children(expect(inner, UNIVERSAL, 16, 'SEQUENCE OF DirectoryEntry')) : []).map((e) => {
        const ek = children(e);
        return { name: decodeFileName(expect(find(ek, CONTEXT, 0), CONTEXT, 0, 'fileName')), attributes: decodeFileAttributes(expect(find(ek, CONTEXT, 1), CONTEXT, 1, 'fileAttributes')) };
      });
      return { service, entries, moreFollows: mf ? decodeBool(mf.value) : false };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// PDU

export function encodeMmsPdu(p: MmsPdu): Uint8Array {
  switch (p.kind) {
    case 'confirmed-request':
      return ctxC(0, tlv(UNIVERSAL, false, 2, intContent(p.invokeId)), encodeRequestBody(p.request));
    case 'confirmed-response':
      return ctxC(1, tlv(UNIVERSAL, false, 2, intContent(p.invokeId)), encodeResponseBody(p.response));
    case 'confirmed-error':
      return ctxC(2, ctxP(0, intContent(p.invokeId)), ctxC(2, ...encodeServiceError(p.error)));
    case 'information-report':
      return ctxC(3, ctxC(0, encodeVariableAccessSpec(p.report.spec), ctxC(0, ...p.report.results.map(encodeAccessResult))));
    case 'reject': {
      const parts: Uint8Array[] = [];
      if (p.invokeId !== undefined) parts.push(ctxP(0, intContent(p.invokeId)));
      parts.push(ctxP(p.reasonType, intContent(p.reason)));
      return ctxC(4, ...parts);
    }
    case 'initiate-request':
      return ctxC(8, ...encodeInitiate(p));
    case 'initiate-response':
      return ctxC(9, ...encodeInitiate(p));
    case 'initiate-error':
      return ctxC(10, ...encodeServiceError(p.error));
    case 'conclude-request':
      return ctxP(11, new Uint8Array(0));
    case 'conclude-response':
      return ctxP(12, new Uint8Array(0));
    case 'conclude-error':
      return ctxC(13, ...encodeServiceError(p.error));
  }
}

export function decodeMmsPdu(buf: Uint8Array): MmsPdu {
  const t = readSingle(buf);
  if (t.cls !== CONTEXT) throw malformed('MMS: PDU must be context-tagged', { cls: t.cls });
  switch (t.tag) {
    case 0:
    case 1: {
      const kids = children(t);
      const id = expect(kids[0], UNIVERSAL, 2, 'invokeID');
      const body = kids[1];
      if (body === undefined) throw malformed('MMS: confirmed PDU without service');
      const invokeId = decodeUint(id.value);
      return t.tag === 0 ? { kind: 'confirmed-request', invokeId, request: decodeRequestBody(body) } : { kind: 'confirmed-response', invokeId, response: decodeResponseBody(body) };
    }
    case 2: {
      const kids = children(t);
      return { kind: 'confirmed-error', invokeId: decodeUint(expect(find(kids, CONTEXT, 0), CONTEXT, 0, 'invokeID').value), error: decodeServiceError(children(expect(find(kids, CONTEXT, 2), CONTEXT, 2, 'serviceError'))) };
    }
    case 3: {
      const ir = expect(children(t)[0], CONTEXT, 0, 'informationReport');
      const kids = children(ir);
      const spec = decodeVariableAccessSpec(kids[0]);
      return { kind: 'information-report', report: { spec, results: children(expect(kids[1], CONTEXT, 0, 'listOfAccessResult')).map(decodeAccessResult) } };
    }
    case 4: {
      const kids = children(t);
      const id = find(kids, CONTEXT, 0);
      const reason = kids.find((k) => k.cls === CONTEXT && k.tag !== 0);
      if (!reason) throw malformed('MMS: reject without reason');
      const out: MmsPdu = { kind: 'reject', reasonType: reason.tag, reason: decodeInt(reason.value) };
      if (id) out.invokeId = decodeUint(id.value);
      return out;
    }
    case 8:
      return { kind: 'initiate-request', ...decodeInitiate(children(t)) };
    case 9:
      return { kind: 'initiate-response', ...decodeInitiate(children(t)) };
    case 10:
      return { kind: 'initiate-error', error: decodeServiceError(children(t)) };
    case 11:
      return { kind: 'conclude-request' };
    case 12:
      return { kind: 'conclude-response' };
    case 13:
      return { kind: 'conclude-error', error: decodeServiceError(children(t)) };
    default:
      throw malformed('MMS: unsupported PDU', { tag: t.tag });
  }
}
