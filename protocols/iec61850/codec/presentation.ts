/**
 * ISO presentation (ISO 8823-1 / X.226), normal mode, BER transfer syntax, as IEC 61850-8-1 uses it.
 *
 *   CP-type  ::= SET { mode-selector [0] { mode-value [0] 1 },
 *                     normal-mode-parameters [2] SEQUENCE { calling-PSEL [1], called-PSEL [2],
 *                       presentation-context-definition-list [4] SEQUENCE OF { id INTEGER, abstract-syntax OID,
 *                                                                            SEQUENCE OF transfer-syntax OID },
 *                       user-data } }
 *   CPA-type ::= SET { mode-selector [0], normal-mode-parameters [2] SEQUENCE { responding-PSEL [3],
 *                       result-list [5] SEQUENCE OF { result [0] INTEGER, transfer-syntax [1] OID }, user-data } }
 *   user-data ::= fully-encoded-data [APPLICATION 1] SEQUENCE OF PDV-list
 *   PDV-list ::= SEQUENCE { presentation-context-identifier INTEGER, single-ASN1-type [0] ANY }
 *
 * Context ids are fixed like libiec61850's: 1 = ACSE (2.2.1.0.1), 3 = MMS (1.0.9506.2.1), transfer syntax BER 2.1.1.
 * Error policy: the codec throws FRAME_TRUNCATED / FRAME_MALFORMED.
 */
import {
  APPLICATION, CONTEXT, UNIVERSAL, appC, children, ctxC, ctxP, decodeInt, decodeOid, expect, find, intContent,
  malformed, readSingle, seq, tlv, univInt, univOid,
} from './ber.ts';

export const ACSE_CONTEXT = 1;
export const MMS_CONTEXT = 3;
export const ACSE_AS = '2.2.1.0.1';
export const MMS_AS = '1.0.9506.2.1';
export const BER_TS = '2.1.1';
const PSEL_DEFAULT = Uint8Array.of(0, 0, 0, 1);

export interface PresentationContext {
  id: number;
  abstractSyntax: string;
}

export interface PresentationConnect {
  callingPsel?: Uint8Array;
  calledPsel?: Uint8Array;
  contexts: PresentationContext[];
  contextId: number;
  userData: Uint8Array;
}

export interface PresentationAccept {
  respondingPsel?: Uint8Array;
  /** One result per proposed context: 0 acceptance. */
  results: number[];
  contextId: number;
  userData: Uint8Array;
}

/** fully-encoded-data with one PDV list. */
export function encodeUserData(contextId: number, data: Uint8Array): Uint8Array {
  return appC(1, seq(univInt(contextId), ctxC(0, data)));
}

export function decodeUserData(buf: Uint8Array): { contextId: number; data: Uint8Array } {
  const t = readSingle(buf);
  return decodeUserDataTlv(t);
}

function decodeUserDataTlv(t: ReturnType<typeof readSingle>): { contextId: number; data: Uint8Array } {
  expect(t, APPLICATION, 1, 'fully-encoded-data');
  const pdv = expect(children(t)[0], UNIVERSAL, 16, 'PDV-list');
  const kids = children(pdv);
  let i = 0;
  if (kids[i]?.cls === UNIVERSAL && kids[i]?.tag === 6) i++; // transfer-syntax-name
  const id = expect(kids[i], UNIVERSAL, 2, 'presentation-context-identifier');
  const values = kids[i + 1];
  if (values === undefined || values.cls !== CONTEXT) throw malformed('presentation: missing presentation-data-values');
  let data = values.value;
  if (values.tag === 0) {
    // single-ASN1-type: the contents are exactly one TLV
    data = values.value;
  } else if (values.tag !== 1 && values.tag !== 2) throw malformed('presentation: bad presentation-data-values', { tag: values.tag });
  return { contextId: decodeInt(id.value), data };
}

const modeSelector = (): Uint8Array => ctxC(0, ctxP(0, intContent(1)));

export function encodeCp(o: Omit<PresentationConnect, 'contexts' | 'contextId'> & { contexts?: PresentationContext[] }): Uint8Array {
  const contexts = o.contexts ?? [{ id: ACSE_CONTEXT, abstractSyntax: ACSE_AS }, { id: MMS_CONTEXT, abstractSyntax: MMS_AS }];
  const list = ctxC(4, ...contexts.map((c) => seq(univInt(c.id), univOid(c.abstractSyntax), seq(univOid(BER_TS)))));
  return tlv(UNIVERSAL, true, 17, [
    modeSelector(),
    ctxC(2, ctxP(1, o.callingPsel ?? PSEL_DEFAULT), ctxP(2, o.calledPsel ?? PSEL_DEFAULT), list, encodeUserData(ACSE_CONTEXT, o.userData)),
  ]);
}

export function encodeCpa(userData: Uint8Array, respondingPsel: Uint8Array = PSEL_DEFAULT, contexts = 2): Uint8Array {
  const results = ctxC(5, ...Array.from({ length: contexts }, () => seq(ctxP(0, intContent(0)), ctxP(1, univOid(BER_TS).subarray(2)))));
  return tlv(UNIVERSAL, true, 17, [modeSelector(), ctxC(2, ctxP(3, respondingPsel), results, encodeUserData(ACSE_CONTEXT, userData))]);
}

function normalMode(buf: Uint8Array): ReturnType<typeof children> {
  const t = readSingle(buf);
  if (t.cls !== UNIVERSAL || t.tag !== 17) throw malformed('presentation: expected CP/CPA-type SET', { tag: t.tag });
  const nm = find(children(t), CONTEXT, 2);
  if (nm === undefined) throw malformed('presentation: missing normal-mode-parameters');
  return children(nm);
}

export function decodeCp(buf: Uint8Array): PresentationConnect {
  const kids = normalMode(buf);
  const ud = find(kids, APPLICATION, 1);
  if (ud === undefined) throw malformed('presentation: CP without user data');
  const list = find(kids, CONTEXT, 4);
  const contexts = list === undefined ? [] : children(list).map((c) => {
    const [id, as] = children(c);
    return { id: decodeInt(expect(id, UNIVERSAL, 2, 'context id').value), abstractSyntax: decodeOid(expect(as, UNIVERSAL, 6, 'abstract syntax').value) };
  });
  const u = decodeUserDataTlv(ud);
  const out: PresentationConnect = { contexts, contextId: u.contextId, userData: u.data };
  const calling = find(kids, CONTEXT, 1);
  const called = find(kids, CONTEXT, 2);
  if (calling) out.callingPsel = calling.value.slice();
  if (called) out.calledPsel = called.value.slice();
  return out;
}

export function decodeCpa(buf: Uint8Array): PresentationAccept {
  const kids = normalMode(buf);
  const ud = find(kids, APPLICATION, 1);
  if (ud === undefined) throw malformed('presentation: CPA without user data');
  const rl = find(kids, CONTEXT, 5);
  const results = rl === undefined ? [] : children(rl).map((r) => decodeInt(expect(children(r)[0], CONTEXT, 0, 'result').value));
  const u = decodeUserDataTlv(ud);
  const out: PresentationAccept = { results, contextId: u.contextId, userData: u.data };
  const rp = find(kids, CONTEXT, 3);
  if (rp) out.respondingPsel = rp.value.slice();
  return out;
}
