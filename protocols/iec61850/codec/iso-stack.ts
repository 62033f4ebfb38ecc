/**
 * The OSI upper layers stacked as IEC 61850-8-1 uses them: what travels in the user data of COTP DT TPDUs.
 *
 *   association: session CN { presentation CP { ACSE AARQ { MMS initiate-RequestPDU } } }
 *                session AC { presentation CPA { ACSE AARE { MMS initiate-ResponsePDU } } }
 *   data:        session GT+DT, presentation fully-encoded-data (context 3) { MMS PDU }
 *   release:     session FN { fully-encoded-data (context 1) { RLRQ } }  /  session DN { ... { RLRE } }
 *   abort:       session AB { ... { ABRT } }
 *
 * Error policy: the codec throws FRAME_TRUNCATED / FRAME_MALFORMED.
 */
import { decodeAcse, encodeAarq, encodeAare, encodeAbrt, encodeRlre, encodeRlrq, MMS_APPLICATION_CONTEXT } from './acse.ts';
import type { Aare, Aarq, ApAddress } from './acse.ts';
import { malformed } from './ber.ts';
import { ACSE_CONTEXT, MMS_CONTEXT, decodeCp, decodeCpa, decodeUserData, encodeCp, encodeCpa, encodeUserData } from './presentation.ts';
import { decodeSpdu, encodeSessionAccept, encodeSessionConnect, encodeSessionData, encodeSessionSimple } from './session.ts';

/** Addressing of an association (defaults are libiec61850's). */
export interface IsoAddressing {
  called?: ApAddress;
  calling?: ApAddress;
  calledPsel?: Uint8Array;
  callingPsel?: Uint8Array;
  calledSsel?: Uint8Array;
  callingSsel?: Uint8Array;
  password?: string;
}

export const DEFAULT_ADDRESSING: Required<Pick<IsoAddressing, 'called' | 'calling'>> = {
  called: { apTitle: '1.1.1.999.1', aeQualifier: 12 },
  calling: { apTitle: '1.1.1.999', aeQualifier: 12 },
};

export type UpperPdu =
  | { type: 'connect'; aarq: Aarq; mms: Uint8Array }
  | { type: 'accept'; aare: Aare; mms?: Uint8Array }
  | { type: 'refuse' }
  | { type: 'data'; contextId: number; mms: Uint8Array }
  | { type: 'release-request' }
  | { type: 'release-response' }
  | { type: 'abort' };

export function encodeConnect(initiate: Uint8Array, a: IsoAddressing = {}): Uint8Array {
  const aarq: Aarq = {
    applicationContext: MMS_APPLICATION_CONTEXT,
    called: a.called ?? DEFAULT_ADDRESSING.called,
    calling: a.calling ?? DEFAULT_ADDRESSING.calling,
    userData: initiate,
  };
  if (a.password !== undefined) aarq.password = a.password;
  const cp = { userData: encodeAarq(aarq), ...(a.callingPsel ? { callingPsel: a.callingPsel } : {}), ...(a.calledPsel ? { calledPsel: a.calledPsel } : {}) };
  return encodeSessionConnect(encodeCp(cp), { ...(a.callingSsel ? { callingSsel: a.callingSsel } : {}), ...(a.calledSsel ? { calledSsel: a.calledSsel } : {}) });
}

export function encodeAccept(initiateResponse: Uint8Array, result = 0, diagnostic = 0): Uint8Array {
  return encodeSessionAccept(encodeCpa(encodeAare({ applicationContext: MMS_APPLICATION_CONTEXT, result, diagnostic, userData: initiateResponse })));
}

export function encodeData(mms: Uint8Array): Uint8Array {
  return encodeSessionData(encodeUserData(MMS_CONTEXT, mms));
}

export function encodeReleaseRequest(): Uint8Array {
  return encodeSessionSimple('FN', encodeUserData(ACSE_CONTEXT, encodeRlrq(0)));
}

export function encodeReleaseResponse(): Uint8Array {
  return encodeSessionSimple('DN', encodeUserData(ACSE_CONTEXT, encodeRlre()));
}

export function encodeAbort(): Uint8Array {
  return encodeSessionSimple('AB', encodeUserData(ACSE_CONTEXT, encodeAbrt(0)));
}

/** Decodes the session/presentation/ACSE layers of one reassembled COTP user-data unit. */
export function decodeUpper(buf: Uint8Array): UpperPdu {
  const s = decodeSpdu(buf);
  switch (s.type) {
    case 'CN': {
      const cp = decodeCp(s.userData);
      const acse = decodeAcse(cp.userData);
      if (acse.type !== 'AARQ') throw malformed('ACSE: CONNECT must carry an AARQ', { got: acse.type });
      if (acse.userData === undefined) throw malformed('ACSE: AARQ without MMS initiate');
      const { type: _t, ...aarq } = acse;
      return { type: 'connect', aarq, mms: acse.userData };
    }
    case 'AC': {
      const cpa = decodeCpa(s.userData);
      const acse = decodeAcse(cpa.userData);
      if (acse.type !== 'AARE') throw malformed('ACSE: ACCEPT must carry an AARE', { got: acse.type });
      const { type: _t, ...aare } = acse;
      return acse.userData ? { type: 'accept', aare, mms: acse.userData } : { type: 'accept', aare };
    }
    case 'RF':
      return { type: 'refuse' };
    case 'DT': {
      const u = decodeUserData(s.userData);
      return { type: 'data', contextId: u.contextId, mms: u.data };
    }
    case 'FN':
      return { type: 'release-request' };
    case 'DN':
      return { type: 'release-response' };
    case 'AB':
    case 'AA':
      return { type: 'abort' };
  }
}
