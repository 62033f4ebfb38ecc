/**
 * MMS client (ISO 9506) over the ISO stack: association (COTP CR/CC, session CN/AC, presentation CP/CPA,
 * ACSE AARQ/AARE with MMS Initiate), invoke ids, request pipelining up to the negotiated outstanding calls,
 * per-request timeouts, unconfirmed InformationReports, Conclude + release, abort.
 *
 * Error policy: requests reject with EnergyMeshError — TIMEOUT (retriable), CONNECTION_CLOSED (retriable),
 * DEVICE_EXCEPTION for a confirmed-ErrorPDU or reject (details: errorClass, code) and for DataAccessErrors
 * when a single-item helper fails (details: dataAccessError). A malformed PDU from the server closes the
 * association. Listeners never see exceptions from this class.
 */
import { EnergyMeshError } from '../../../core/errors.ts';
import type { BitString } from '../codec/ber.ts';
import { decodeUpper, encodeAbort, encodeConnect, encodeData, encodeReleaseRequest } from '../codec/iso-stack.ts';
import type { IsoAddressing } from '../codec/iso-stack.ts';
import type { AccessResult, MmsData, TypeSpec } from '../codec/mms-data.ts';
import { decodeMmsPdu, encodeMmsPdu, ObjectClass } from '../codec/mms-pdu.ts';
import type {
  ConfirmedRequest, ConfirmedResponse, DirectoryEntry, FileAttributes, InformationReport, InitiateParams, MmsPdu,
  NamedVariableListAttributes, NameListScope, ObjectName, ServiceError,
} from '../codec/mms-pdu.ts';
import { connectTcp } from '../transport/byte-channel.ts';
import type { ByteChannel } from '../transport/byte-channel.ts';
import { CotpConnection } from '../transport/cotp-connection.ts';
import type { CotpOptions } from '../transport/cotp-connection.ts';

export interface MmsClientOptions extends CotpOptions, IsoAddressing {
  /** Proposed max MMS PDU size (localDetailCalling); default 65000. */
  maxPduSize?: number;
  /** Proposed max outstanding calls; default 5. */
  maxServOutstanding?: number;
  /** Per-request timeout; default 10000 ms. */
  requestTimeoutMs?: number;
  /** Association timeout; default 10000 ms. */
  connectTimeoutMs?: number;
}

export interface NegotiatedParameters {
  maxPduSize: number;
  maxServOutstandingCalling: number;
  maxServOutstandingCalled: number;
  nestingLevel: number;
  servicesSupported: BitString;
  parameterCbb: BitString;
  tpduSize: number;
}

/** parameterCBB and servicesSupportedCalling as libiec61850's client proposes them. */
export const CLIENT_CBB: BitString = { bits: 11, bytes: Uint8Array.of(0xf1, 0x00) };
export const CLIENT_SERVICES: BitString = { bits: 85, bytes: Uint8Array.from(Buffer.from('ee1c00000408000079ef18', 'hex')) };

interface Pending {
  invokeId: number;
  request: ConfirmedRequest;
  resolve: (r: ConfirmedResponse) => void;
  reject: (e: EnergyMeshError) => void;
  timer?: NodeJS.Timeout;
  timeoutMs: number;
  bytes?: Uint8Array;
}

export function serviceErrorToException(e: ServiceError, service: string): EnergyMeshError {
  return new EnergyMeshError('DEVICE_EXCEPTION', `MMS ${service}: service error class ${e.errorClass} code ${e.code}`, {
    details: { errorClass: e.errorClass, code: e.code, ...(e.additionalCode !== undefined ? { additionalCode: e.additionalCode } : {}) },
  });
}

export function dataAccessException(error: number, what: string): EnergyMeshError {
  return new EnergyMeshError('DEVICE_EXCEPTION', `MMS: ${what} failed with DataAccessError ${error}`, { details: { dataAccessError: error } });
}

export class MmsClient {
  private nextInvokeId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly queue: Pending[] = [];
  private readonly reportListeners: ((r: InformationReport) => void)[] = [];
  private readonly closeListeners: ((e?: EnergyMeshError) => void)[] = [];
  private concludeWaiter: { resolve: () => void; reject: (e: EnergyMeshError) => void } | undefined;
  private closed = false;
  private closeError: EnergyMeshError | undefined;

  private constructor(private readonly cotp: CotpConnection, readonly negotiated: NegotiatedParameters, private readonly timeoutMs: number) {
    cotp.onTsdu((t) => this.onTsdu(t));
    cotp.onClose((e) => this.finish(e ?? new EnergyMeshError('CONNECTION_CLOSED', 'MMS: connection closed', { retriable: true })));
  }

  /** Connects over TCP (default port 102) and associates. */
  static async connectTcp(host: string, port = 102, o: MmsClientOptions = {}): Promise<MmsClient> {
    const channel = await connectTcp(host, port, o.connectTimeoutMs ?? 10_000);
    return MmsClient.associate(channel, o);
  }

  /** Associates over an already-open byte channel. */
  static async associate(channel: ByteChannel, o: MmsClientOptions = {}): Promise<MmsClient> {
    const timeout = o.connectTimeoutMs ?? 10_000;
    let cotp: CotpConnection;
    try {
      cotp = await CotpConnection.connect(channel, { ...o, timeoutMs: timeout });
    } catch (e) {
      channel.close();
      throw e;
    }
    const proposal: InitiateParams = {
      localDetail: o.maxPduSize ?? 65000,
      maxServOutstandingCalling: o.maxServOutstanding ?? 5,
      maxServOutstandingCalled: o.maxServOutstanding ?? 5,
      dataStructureNestingLevel: 10,
      version: 1,
      parameterCbb: CLIENT_CBB,
      servicesSupported: CLIENT_SERVICES,
    };
    const response = await new Promise<MmsPdu>((resolve, reject) => {
      const timer = setTimeout(() => {
        cotp.close();
        reject(new EnergyMeshError('TIMEOUT', 'MMS: association timed out', { retriable: true }));
      }, timeout);
      cotp.onClose((e) => {
        clearTimeout(timer);
        reject(e ?? new EnergyMeshError('CONNECTION_CLOSED', 'MMS: connection closed during association', { retriable: true }));
      });
      cotp.onTsdu((tsdu) => {
        clearTimeout(timer);
        try {
          const u = decodeUpper(tsdu);
          if (u.type !== 'accept' || u.mms === undefined || u.aare.result !== 0) {
            const details = u.type === 'accept' ? { result: u.aare.result, diagnostic: u.aare.diagnostic } : { spdu: u.type };
            throw new EnergyMeshError('CONNECTION_REFUSED', 'MMS: association rejected', { details });
          }
          resolve(decodeMmsPdu(u.mms));
        } catch (e) {
          reject(e instanceof EnergyMeshError ? e : new EnergyMeshError('FRAME_MALFORMED', String(e)));
        }
      });
      cotp.send(encodeConnect(encodeMmsPdu({ kind: 'initiate-request', ...proposal }), o));
    }).catch((e: unknown) => {
      cotp.close();
      throw e;
    });
    if (response.kind !== 'initiate-response') {
      cotp.close();
      const details = response.kind === 'initiate-error' ? { errorClass: response.error.errorClass, code: response.error.code } : { pdu: response.kind };
      throw new EnergyMeshError('CONNECTION_REFUSED', 'MMS: initiate refused', { details });
    }
    const negotiated: NegotiatedParameters = {
      maxPduSize: Math.min(proposal.localDetail ?? 65000, response.localDetail ?? 65000),
      maxServOutstandingCalling: Math.max(1, Math.min(proposal.maxServOutstandingCalling, response.maxServOutstandingCalling)),
      maxServOutstandingCalled: Math.max(1, Math.min(proposal.maxServOutstandingCalled, response.maxServOutstandingCalled)),
      nestingLevel: response.dataStructureNestingLevel ?? 10,
      servicesSupported: response.servicesSupported,
      parameterCbb: response.parameterCbb,
      tpduSize: cotp.tpduSize,
    };
    const client = new MmsClient(cotp, negotiated, o.requestTimeoutMs ?? 10_000);
    return client;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  onInformationReport(l: (r: InformationReport) => void): () => void {
    this.reportListeners.push(l);
    return () => {
      const i = this.reportListeners.indexOf(l);
      if (i >= 0) this.reportListeners.splice(i, 1);
    };
  }

  onClose(l: (e?: EnergyMeshError) => void): void {
    if (this.closed) queueMicrotask(() => l(this.closeError));
    else this.closeListeners.push(l);
  }

  /** Sends a confirmed request and resolves with the response of the same service. */
  request(request: ConfirmedRequest, timeoutMs = this.timeoutMs): Promise<ConfirmedResponse> {
    if (this.closed) return Promise.reject(this.closeError ?? new EnergyMeshError('NOT_CONNECTED', 'MMS: not connected', { retriable: true }));
    return new Promise((resolve, reject) => {
      const invokeId = this.nextInvokeId;
      this.nextInvokeId = this.nextInvokeId >= 0x7fffffff ? 1 : this.nextInvokeId + 1;
      const p: Pending = { invokeId, request, resolve, reject, timeoutMs };
      try {
        p.bytes = encodeMmsPdu({ kind: 'confirmed-request', invokeId, request });
      } catch (e) {
        reject(e instanceof EnergyMeshError ? e : new EnergyMeshError('INVALID_ARGUMENT', String(e)));
        return;
      }
      if (p.bytes.length > this.negotiated.maxPduSize) {
        reject(new EnergyMeshError('FRAME_TOO_LONG', 'MMS: request exceeds the negotiated PDU size', { details: { size: p.bytes.length, max: this.negotiated.maxPduSize } }));
        return;
      }
      this.queue.push(p);
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.pending.size < this.negotiated.maxServOutstandingCalling && !this.closed) {
      const p = this.queue.shift() as Pending;
      this.pending.set(p.invokeId, p);
      p.timer = setTimeout(() => {
        this.pending.delete(p.invokeId);
        p.reject(new EnergyMeshError('TIMEOUT', `MMS ${p.request.service}: no response within ${p.timeoutMs} ms`, { retriable: true, details: { invokeId: p.invokeId } }));
        this.pump();
      }, p.timeoutMs);
      try {
        this.cotp.send(encodeData(p.bytes as Uint8Array));
      } catch (e) {
        clearTimeout(p.timer);
        this.pending.delete(p.invokeId);
        p.reject(e instanceof EnergyMeshError ? e : new EnergyMeshError('CONNECTION_CLOSED', String(e), { retriable: true }));
      }
    }
  }

  private onTsdu(tsdu: Uint8Array): void {
    if (this.closed) return;
    let pdu: MmsPdu;
    try {
      const u = decodeUpper(tsdu);
      if (u.type === 'release-response') {
        this.cotp.close();
        return;
      }
      if (u.type === 'abort') {
        this.cotp.close(new EnergyMeshError('CONNECTION_CLOSED', 'MMS: association aborted by the peer', { retriable: true }));
        return;
      }
      if (u.type !== 'data') return; // stray association PDUs are ignored
      pdu = decodeMmsPdu(u.mms);
    } catch (e) {
      this.cotp.close(e instanceof EnergyMeshError ? e : new EnergyMeshError('FRAME_MALFORMED', String(e)));
      return;
    }
    switch (pdu.kind) {
      case 'confirmed-response':
      case 'confirmed-error': {
        const p = this.pending.get(pdu.invokeId);
        if (!p) return;
        this.pending.delete(pdu.invokeId);
        clearTimeout(p.timer);
        if (pdu.kind === 'confirmed-error') p.reject(serviceErrorToException(pdu.error, p.request.service));
        else if (pdu.response.service !== p.request.service) {
          p.reject(new EnergyMeshError('UNEXPECTED_RESPONSE', `MMS: ${pdu.response.service} response to a ${p.request.service} request`));
        } else p.resolve(pdu.response);
        this.pump();
        return;
      }
      case 'reject': {
        const p = pdu.invokeId !== undefined ? this.pending.get(pdu.invokeId) : undefined;
        if (!p) return;
        this.pending.delete(p.invokeId);
        clearTimeout(p.timer);
        p.reject(new EnergyMeshError('DEVICE_EXCEPTION', `MMS ${p.request.service}: rejected`, { details: { rejectType: pdu.reasonType, rejectReason: pdu.reason } }));
        this.pump();
        return;
      }
      case 'information-report':
        for (const l of [...this.reportListeners]) {
          try {
            l(pdu.report);
          } catch {
            // a listener's failure must not break the association
          }
        }
        return;
      case 'conclude-response':
        this.concludeWaiter?.resolve();
        return;
      case 'conclude-error':
        this.concludeWaiter?.reject(serviceErrorToException(pdu.error, 'conclude'));
        return;
      default:
        return;
    }
  }

  /** Conclude, then release (session FINISH / ACSE RLRQ) and close. */
  async close(timeoutMs = this.timeoutMs): Promise<void> {
    if (this.closed) return;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new EnergyMeshError('TIMEOUT', 'MMS: conclude timed out', { retriable: true })), timeoutMs);
        this.concludeWaiter = {
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        this.onClose(() => {
          clearTimeout(timer);
          resolve();
        });
        this.cotp.send(encodeData(encodeMmsPdu({ kind: 'conclude-request' })));
      });
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.cotp.close();
          resolve();
        }, timeoutMs);
        this.onClose(() => {
          clearTimeout(timer);
          resolve();
        });
        this.cotp.send(encodeReleaseRequest());
      });
    } finally {
      this.cotp.close();
    }
  }

  /** Aborts the association (session ABORT + ACSE ABRT) and closes the connection at once. */
  abort(): void {
    if (this.closed) return;
    try {
      this.cotp.send(encodeAbort());
    } catch {
      // closing anyway
    }
    this.cotp.close(new EnergyMeshError('CONNECTION_CLOSED', 'MMS: aborted', { retriable: true }));
  }

  private finish(e: EnergyMeshError): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = e;
    for (const p of [...this.pending.values(), ...this.queue.splice(0)]) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
    for (const l of this.closeListeners.splice(0)) l(e);
  }

  // -------------------------------------------------------------------------------------------
  // services

  async identify(): Promise<{ vendor: string; model: string; revision: string }> {
    const r = await this.request({ service: 'identify' });
    if (r.service !== 'identify') throw new EnergyMeshError('UNEXPECTED_RESPONSE', 'MMS: bad identify response');
    return { vendor: r.vendor, model: r.model, revision: r.revision };
  }

  /** GetNameList, following `continueAfter` until moreFollows is false. */
  async getNameList(objectClass: number, scope: NameListScope = { type: 'vmd' }): Promise<string[]> {
    const out: string[] = [];
    let continueAfter: string | undefined;
    for (let page = 0; page < 100_000; page++) {
      const req: ConfirmedRequest = { service: 'getNameList', objectClass, scope };
      if (continueAfter !== undefined) req.continueAfter = continueAfter;
      const r = await this.request(req);
      if (r.service !== 'getNameList') throw new EnergyMeshError('UNEXPECTED_RESPONSE', 'MMS: bad GetNameList response');
      out.push(...r.identifiers);
      if (!r.moreFollows || r.identifiers.length === 0) return out;
      continueAfter = r.identifiers[r.identifiers.length - 1];
    }
    return out;
  }

  getDomainNames(): Promise<string[]> {
    return this.getNameList(ObjectClass.domain);
  }

  getVariableNames(domain: string): Promise<string[]> {
    return this.getNameList(ObjectClass.namedVariable, { type: 'domain', domain });
  }

  getVariableListNames(domain: string): Promise<string[]> {
    return this.getNameList(ObjectClass.namedVariableList, { type: 'domain', domain });
  }

  async getVariableAccessAttributes(name: ObjectName): Promise<{ deletable: boolean; typeSpec: TypeSpec }> {
    const r = await this.request({ service: 'getVariableAccessAttributes', name });
    if (r.service !== 'getVariableAccessAttributes') throw new EnergyMeshError('UNEXPECTED_RESPONSE', 'MMS: bad GetVariableAccessAttributes response');
    return { deletable: r.deletable, typeSpec: r.typeSpec };
  }

  /** Reads several variables in one request; failed items come back as `{ type: 'failure' }`. */
  async read(variables: ObjectName[]): Promise<AccessResult[]> {
    const r = await this.request({ service: 'read', spec: { type: 'list', variables } });
    if (r.service !== 'read' || r.results.length !== variables.length) throw new EnergyMeshError('UNEXPECTED_RESPONSE', 'MMS: bad Read response');
    return r.results;
  }

  /** Reads one variable; a DataAccessError rejects with DEVICE_EXCEPTION. */
  async readOne(variable: ObjectName): Promise<MmsData> {
    const [r] = await this.read([variable]);
    if (r === undefined) throw new EnergyMeshError('UNEXPECTED_RESPONSE', 'MMS: empty Read response');
    if (r.type === 'failure') throw dataAccessException(r.error, `read of ${variable.item}`);
    return r;
  }

  /** Reads a named variable list (specificationWithResult true, as libiec61850 does). */
  async readNamedList(name: ObjectName): Promise<AccessResult[]> {
    const r = await this.request({ service: 'read', specificationWithResult: true, spec: { type: 'named', name } });
    if (r.service !== 'read') throw new EnergyMeshError('UNEXPECTED_RESPONSE', 'MMS: bad Read response');
    return r.results;
  }

  /** Writes several variables; per-item results (success or DataAccessError). */
  async write(variables: ObjectName[], data: MmsData[]): Promise<({ type: 'success' } | { type: 'failure'; error: number })[]> {
    const r = await this.request({ service: 'write', spec: { type: 'list', variables }, data });
    if (r.service !== 'write' || r.results.length !== variables.length) throw new EnergyMeshError('UNEXPECTED_RESPONSE', 'MMS: bad Write response');
    return r.results;
  }

  async writeOne(variable: ObjectName, data: MmsData): Promise<void> {
    const [r] = await this.write([variable], [data]);
    if (r?.type === 'failure') throw dataAccessException(r.error, `write of ${variable.item}`);
  }

  async defineNamedVariableList(name: ObjectName, variables: ObjectName[]): Promise<void> {
    await this.request({ service: 'defineNamedVariableList', name, variables });
  }

  async getNamedVariableListAttributes(name: ObjectName): Promise<NamedVariableListAttributes> {
    const r = await this.request({ service: 'getNamedVariableListAttributes', name });
    if (r.service !== 'getNamedVariableListAttributes') throw new EnergyMeshError('UNEXPECTED_RESPONSE', 'MMS: bad response');
    return { deletable: r.deletable, variables: r.variables };
  }

  async deleteNamedVariableList(name: ObjectName): Promise<{ matched: number; deleted: number }> {
    const r = await this.request({ service: 'deleteNamedVariableList', scope: 0, names: [name] });
    if (r.service !== 'deleteNamedVariableList') throw new EnergyMeshError('UNEXPECTED_RESPONSE', 'MMS: bad response');
    return { matched: r.matched, deleted: r.deleted };
  }

  async fileDirectory(fileSpec?: string): Promise<DirectoryEntry[]> {
    const out: DirectoryEntry[] = [];
    let continueAfter: string | undefined;
    for (;;) {
      const req: ConfirmedRequest = { service: 'fileDirectory' };
      if (fileSpec !== undefined) req.fileSpec = fileSpec;
      if (continueAfter !== undefined) req.continueAfter = continueAfter;
      const r = await this.request(req);
      if (r.service !== 'fileDirectory') throw new EnergyMeshError('UNEXPECTED_RESPONSE', 'MMS: bad response');
      out.push(...r.entries);
      if (!r.moreFollows || r.entries.length === 0) return out;
      continueAfter = r.entries[r.entries.length - 1]?.name;
    }
  }

  async fileOpen(fileName: string, initialPosition = 0): Promise<{ frsmId: number; attributes: FileAttributes }> {
    const r = await this.request({ service: 'fileOpen', fileName, initialPosition });
    if (r.service !== 'fileOpen') throw new EnergyMeshError('UNEXPECTED_RESPONSE', 'MMS: bad response');
    return { frsmId: r.frsmId, attributes: r.attributes };
  }

  async fileRead(frsmId: number): Promise<{ data: Uint8Array; moreFollows: boolean }> {
    const r = await this.request({ service: 'fileRead', frsmId });
    if (r.service !== 'fileRead') throw new EnergyMeshError('UNEXPECTED_RESPONSE', 'MMS: bad response');
    return { data: r.data, moreFollows: r.moreFollows };
  }

  async fileClose(frsmId: number): Promise<void> {
    await this.request({ service: 'fileClose', frsmId });
  }

  async fileDelete(fileName: string): Promise<void> {
    await this.request({ service: 'fileDelete', fileName });
  }

  /** Open, read until moreFollows is false, close. */
  async readFile(fileName: string, maxBytes = 64 << 20): Promise<Uint8Array> {
    const { frsmId } = await this.fileOpen(fileName);
    const parts: Uint8Array[] = [];
    let total = 0;
    try {
      for (;;) {
        const r = await this.fileRead(frsmId);
        parts.push(r.data);
        total += r.data.length;
        if (total > maxBytes) throw new EnergyMeshError('FRAME_TOO_LONG', 'MMS: file larger than allowed', { details: { maxBytes } });
        if (!r.moreFollows) break;
      }
    } finally {
      await this.fileClose(frsmId).catch(() => undefined);
    }
    return new Uint8Array(Buffer.concat(parts));
  }
}

