/**
 * ACSE (ISO 8650-1 / X.227) association PDUs as IEC 61850-8-1 uses them.
 *
 *   AARQ ::= [APPLICATION 0] { application-context-name [1] OID, called-AP-title [2] OID, called-AE-qualifier [3] INTEGER,
 *            calling-AP-title [6], calling-AE-qualifier [7], sender-acse-requirements [10] BIT STRING OPT,
 *            mechanism-name [11] OID OPT, calling-authentication-value [12] { charstring [0] } OPT,
 *            user-information [30] { EXTERNAL { indirect-reference INTEGER, single-ASN1-type [0] MMS-PDU } } }
 *   AARE ::= [APPLICATION 1] { [1] OID, result [2] INTEGER, result-source-diagnostic [3] { acse-service-user [1] INTEGER },
 *            responding-AP-title [4] OPT, responding-AE-qualifier [5] OPT, user-information [30] }
 *   RLRQ ::= [APPLICATION 2] { reason [0] INTEGER OPT }   RLRE ::= [APPLICATION 3] { reason [0] OPT }
 *   ABRT ::= [APPLICATION 4] { abort-source [0] INTEGER }
 *
 * Error policy: the codec throws FRAME_TRUNCATED / FRAME_MALFORMED.
 */
import {
  APPLICATION, CONTEXT, UNIVERSAL, appC, children, ctxC, ctxP, decodeInt, decodeOid, decodeString, expect, find,
  intContent, malformed, readSingle, stringContent, tlv, univInt, univOid, oidContent,
} from './ber.ts';
import { MMS_CONTEXT } from './presentation.ts';

export const MMS_APPLICATION_CONTEXT = '1.0.9506.2.3';
const PASSWORD_MECHANISM = '2.2.3.1';

export interface ApAddress {
  apTitle?: string;
  aeQualifier?: number;
}

export interface Aarq {
  applicationContext: string;
  called?: ApAddress;
  calling?: ApAddress;
  password?: string;
  /** The MMS PDU from user-information. */
  userData?: Uint8Array;
}

export interface Aare {
  applicationContext: string;
  /** 0 accepted, 1 rejected-permanent, 2 rejected-transient. */
  result: number;
  diagnostic?: number;
  responding?: ApAddress;
  userData?: Uint8Array;
}

export type AcsePdu =
  | ({ type: 'AARQ' } & Aarq)
  | ({ type: 'AARE' } & Aare)
  | { type: 'RLRQ'; reason?: number }
  | { type: 'RLRE'; reason?: number }
  | { type: 'ABRT'; source: number };

const userInformation = (mms: Uint8Array): Uint8Array => ctxC(30, tlv(UNIVERSAL, true, 8, [univInt(MMS_CONTEXT), ctxC(0, mms)]));

export function encodeAarq(a: Aarq): Uint8Array {
  const parts: Uint8Array[] = [ctxC(1, univOid(a.applicationContext))];
  if (a.called?.apTitle !== undefined) parts.push(ctxC(2, univOid(a.called.apTitle)));
  if (a.called?.aeQualifier !== undefined) parts.push(ctxC(3, univInt(a.called.aeQualifier)));
  if (a.calling?.apTitle !== undefined) parts.push(ctxC(6, univOid(a.calling.apTitle)));
  if (a.calling?.aeQualifier !== undefined) parts.push(ctxC(7, univInt(a.calling.aeQualifier)));
  if (a.password !== undefined) {
    parts.push(ctxP(10, Uint8Array.of(7, 0x80)), ctxP(11, oidContent(PASSWORD_MECHANISM)), ctxC(12, ctxP(0, stringContent(a.password))));
  }
  if (a.userData) parts.push(userInformation(a.userData));
  return appC(0, ...parts);
}

export function encodeAare(a: Aare): Uint8Array {
  const parts: Uint8Array[] = [ctxC(1, univOid(a.applicationContext)), ctxC(2, univInt(a.result)), ctxC(3, ctxC(1, univInt(a.diagnostic ?? 0)))];
  if (a.responding?.apTitle !== undefined) parts.push(ctxC(4, univOid(a.responding.apTitle)));
  if (a.responding?.aeQualifier !== undefined) parts.push(ctxC(5, univInt(a.responding.aeQualifier)));
  if (a.userData) parts.push(userInformation(a.userData));
  return appC(1, ...parts);
}

export const encodeRlrq = (reason = 0): Uint8Array => appC(2, ctxP(0, intContent(reason)));
export const encodeRlre = (): Uint8Array => tlv(APPLICATION, true, 3, new Uint8Array(0));
export const encodeAbrt = (source = 0): Uint8Array => appC(4, ctxP(0, intContent(source)));

function apTitle(t: ReturnType<typeof find>): string | undefined {
  if (t === undefined) return undefined;
  const inner = children(t)[0];
  return inner && inner.cls === UNIVERSAL && inner.tag === 6 ? decodeOid(inner.value) : undefined;
}

function aeQualifier(t: ReturnType<typeof find>): number | undefined {
  if (t === undefined) return undefined;
  const inner = children(t)[0];
  return inner && inner.cls === UNIVERSAL && inner.tag === 2 ? decodeInt(inner.value) : undefined;
}

function userData(kids: ReturnType<typeof children>): Uint8Array | undefined {
  const ui = find(kids, CONTEXT, 30);
  if (ui === undefined) return undefined;
  const ext = expect(children(ui)[0], UNIVERSAL, 8, 'EXTERNAL');
  const single = find(children(ext), CONTEXT, 0);
  if (single === undefined) throw malformed('ACSE: user-information without single-ASN1-type');
  return single.value;
}

function address(kids: ReturnType<typeof children>, titleTag: number, qualTag: number): ApAddress | undefined {
  const apTitleValue = apTitle(find(kids, CONTEXT, titleTag));
  const ae = aeQualifier(find(kids, CONTEXT, qualTag));
  if (apTitleValue === undefined && ae === undefined) return undefined;
  const out: ApAddress = {};
  if (apTitleValue !== undefined) out.apTitle = apTitleValue;
  if (ae !== undefined) out.aeQualifier = ae;
  return out;
}

export function decodeAcse(buf: Uint8Array): AcsePdu {
  const t = readSingle(buf);
  if (t.cls !== APPLICATION) throw malformed('ACSE: expected an APPLICATION tag', { tag: t.tag });
  const kids = children(t);
  const ctxName = (): string => decodeOid(expect(children(expect(find(kids, CONTEXT, 1), CONTEXT, 1, 'application-context-name'))[0], UNIVERSAL, 6, 'OID').value);
  switch (t.tag) {
    case 0: {
      const out: AcsePdu = { type: 'AARQ', applicationContext: ctxName() };
      const called = address(kids, 2, 3);
      const calling = address(kids, 6, 7);
      if (called) out.called = called;
      if (calling) out.calling = calling;
      const auth = find(kids, CONTEXT, 12);
      if (auth) {
        const cs = find(children(auth), CONTEXT, 0);
        if (cs) out.password = decodeString(cs.value);
      }
      const ud = userData(kids);
      if (ud) out.userData = ud;
      return out;
    }
    case 1: {
      const result = decodeInt(expect(children(expect(find(kids, CONTEXT, 2), CONTEXT, 2, 'result'))[0], UNIVERSAL, 2, 'result').value);
      const out: AcsePdu = { type: 'AARE', applicationContext: ctxName(), result };
      const diag = find(kids, CONTEXT, 3);
      const diagInner = diag ? children(diag)[0] : undefined;
      const diagValue = diagInner ? children(diagInner)[0] : undefined;
      if (diagValue) out.diagnostic = decodeInt(diagValue.value);
      const responding = address(kids, 4, 5);
      if (responding) out.responding = responding;
      const ud = userData(kids);
      if (ud) out.userData = ud;
      return out;
    }
    case 2:
    case 3: {
      const r = find(kids, CONTEXT, 0);
      const type = t.tag === 2 ? 'RLRQ' : 'RLRE';
      return r ? { type, reason: decodeInt(r.value) } : { type };
    }
    case 4: {
      const s = find(kids, CONTEXT, 0);
      return { type: 'ABRT', source: s ? decodeInt(s.value) : 0 };
    }
    default:
      throw malformed('ACSE: unsupported APDU', { tag: t.tag });
  }
}
