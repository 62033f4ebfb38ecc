/**
 * The OPC UA client API of EnergyMesh: a thin layer over node-opcua that connects with a security
 * mode/policy and an identity, discovers the address space, creates monitored items in bulk within
 * the server's limits, writes, calls methods, and survives connection loss.
 *
 * Reconnection: node-opcua re-opens the secure channel with back-off and repairs the session — it
 * reactivates the old session when the server still has it, otherwise creates a new one and asks
 * the server to TransferSubscriptions; a subscription the server no longer knows is recreated with
 * all its monitored items (in calls that respect MaxMonitoredItemsPerCall). This class watches that
 * repair (subscriptionId_changed tells a recreate from a transfer), checks every item is live again
 * and reports it through `onDidChangeState` ('restored'). Replayed notifications — Republish after
 * a transfer, initial values after a recreate — are dropped by a ValueDedup, so a consumer never
 * gets the same (item, timestamp, value) twice.
 *
 * Error policy: methods throw EnergyMeshError (see opcua-errors.ts); nothing here retries an operation.
 * Imports nothing from core/ but errors.ts.
 */
import {
  AttributeIds,
  BrowseDirection,
  ClientMonitoredItemGroup,
  DataChangeFilter,
  DataChangeTrigger,
  DataType,
  DeadbandType,
  MessageSecurityMode,
  NodeClass,
  OPCUAClient,
  SecurityPolicy,
  StatusCodes,
  TimestampsToReturn,
  UserTokenType,
  VariableIds,
  coerceNodeId,
  findBasicDataType,
  readOperationLimits,
} from 'node-opcua';
import type {
  BrowseDescriptionLike,
  ClientMonitoredItemBase,
  ClientSession,
  ClientSubscription,
  DataValue,
  MonitoringParametersOptions,
  NodeId,
  ReferenceDescription,
  UserIdentityInfo,
} from 'node-opcua';
import { EnergyMeshError, errorMessage } from '../../../core/errors.ts';
import { statusError, toOpcuaError } from './opcua-errors.ts';
import type { OpcuaPki } from './opcua-pki.ts';
import { certificateThumbprint } from './opcua-pki.ts';
import { qualityFromStatusCode, statusCodeName } from './opcua-quality.ts';
import type { OpcuaQuality } from './opcua-quality.ts';
import { dataTypeName, fromVariant, toVariant } from './opcua-variant.ts';
import type { PlainValue } from './opcua-variant.ts';
import { planMonitoredItems } from './subscription-plan.ts';
import { ValueDedup } from './value-dedup.ts';

export type SecurityModeName = 'None' | 'Sign' | 'SignAndEncrypt';
export type SecurityPolicyName = 'None' | 'Basic256Sha256' | 'Aes128_Sha256_RsaOaep' | 'Aes256_Sha256_RsaPss' | 'Basic256' | 'Basic128Rsa15';

export interface OpcuaClientOptions {
  /** `opc.tcp://host:port[/path]`. */
  endpointUrl: string;
  securityMode?: SecurityModeName;
  /** Default Basic256Sha256 when the mode is Sign or SignAndEncrypt. */
  securityPolicy?: SecurityPolicyName;
  /** Anonymous when absent. */
  user?: { username: string; password: string };
  /**
   * Our certificate and trust list; required for Sign / SignAndEncrypt. Give it for None too: without it
   * node-opcua creates a default certificate under the user's ~/.config.
   */
  pki?: OpcuaPki;
  applicationName?: string;
  requestTimeoutMs?: number;
  sessionTimeoutMs?: number;
  reconnectInitialDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /** How to tell an operator to trust a certificate (the plugin names its CLI command). */
  trustHint?: (thumbprint: string) => string;
}

export type OpcuaClientState = 'connected' | 'reconnecting' | 'restored' | 'closed';

export interface OpcuaStateChange {
  state: OpcuaClientState;
  reason?: string;
  /** For 'restored': what the repair did. */
  restore?: RestoreReport;
}

export interface RestoreReport {
  subscriptions: number;
  transferred: number;
  recreated: number;
  items: number;
  liveItems: number;
}

/** Server limits that matter for subscriptions (0 = not advertised). */
export interface OpcuaServerLimits {
  maxMonitoredItemsPerCall: number;
  maxMonitoredItemsPerSubscription: number;
  maxNodesPerRead: number;
  maxNodesPerBrowse: number;
}

/** What we know about a variable (from discovery or from inspecting a configured node). */
export interface VariableInfo {
  nodeId: string;
  browsePath: string;
  displayName: string;
  dataType: string;
  /** Built-in data type (numeric id) used to encode writes. */
  builtInType: DataType;
  readable: boolean;
  writable: boolean;
  engineeringUnits?: string;
}

export interface MethodInfo {
  objectId: string;
  methodId: string;
  browsePath: string;
  inputs: { name: string; dataType: string }[];
}

export interface DiscoveryResult {
  variables: VariableInfo[];
  methods: MethodInfo[];
  /** True when maxNodes stopped the walk. */
  truncated: boolean;
}

export interface DeadbandOptions {
  type: 'absolute' | 'percent';
  value: number;
}

/** One item to monitor. */
export interface MonitorSpec {
  /** Unique key the caller uses to recognize the item's changes. */
  key: string;
  nodeId: string;
  samplingIntervalMs?: number;
  queueSize?: number;
  deadband?: DeadbandOptions;
}

export interface SubscriptionOptions {
  publishingIntervalMs?: number;
  /** Our own cap on items per subscription (the server's limit always applies too). */
  maxItemsPerSubscription?: number;
  /** Our own cap on items per CreateMonitoredItems call. */
  maxItemsPerCall?: number;
  maxNotificationsPerPublish?: number;
  defaults?: { samplingIntervalMs?: number; queueSize?: number; deadband?: DeadbandOptions };
}

/** One data change of one monitored item. */
export interface ItemChange {
  key: string;
  nodeId: string;
  value: PlainValue;
  statusCode: number;
  quality: OpcuaQuality;
  /** Epoch ms. */
  sourceTimestamp?: number;
  serverTimestamp?: number;
}

export interface ItemStatus {
  key: string;
  nodeId: string;
  statusCode: number;
  statusName: string;
  ok: boolean;
}

/** The result of a write or a method call: the server's StatusCode and, for calls, the outputs. */
export interface OperationResult {
  statusCode: number;
  statusName: string;
  good: boolean;
  outputs?: PlainValue[];
  inputArgumentResults?: string[];
}

type Listener<T> = (e: T) => void;

const SECURITY_MODES: Record<SecurityModeName, MessageSecurityMode> = {
  None: MessageSecurityMode.None,
  Sign: MessageSecurityMode.Sign,
  SignAndEncrypt: MessageSecurityMode.SignAndEncrypt,
};

/** Validates an endpoint URL; throws CONFIG_INVALID. */
export function checkEndpointUrl(url: string): void {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    u = undefined;
  }
  if (!u || u.protocol !== 'opc.tcp:' || !u.hostname || !u.port) {
    throw new EnergyMeshError('CONFIG_INVALID', `bad OPC UA endpoint URL ${JSON.stringify(url)}: expected opc.tcp://host:port[/path]`, { details: { endpointUrl: url } });
  }
}

/** A connected OPC UA client with one session. */
export class OpcuaClient {
  private readonly stateListeners = new Set<Listener<OpcuaStateChange>>();
  private readonly sets = new Set<MonitoredItemSet>();
  private readonly dataTypes = new Map<string, DataType>();
  private limitsCache: OpcuaServerLimits | undefined;
  private closed = false;
  private connectedNow = true;

  private constructor(
    private readonly client: OPCUAClient,
    readonly session: ClientSession,
    readonly options: OpcuaClientOptions,
  ) {
    client.on('connection_lost', () => {
      this.connectedNow = false;
      this.emit({ state: 'reconnecting', reason: 'connection lost' });
    });
    client.on('connection_reestablished', () => {
      this.connectedNow = true;
      void this.afterRepair();
    });
    client.on('close', (err?: Error | null) => {
      if (this.closed) return;
      this.connectedNow = false;
      if (err) this.emit({ state: 'reconnecting', reason: errorMessage(err) });
    });
    session.on('session_closed', () => {
      if (!this.closed) this.emit({ state: 'reconnecting', reason: 'session closed by the server' });
    });
  }

  /** Connects and opens a session; throws CONFIG_INVALID, CONNECTION_REFUSED, CERTIFICATE_UNTRUSTED, UNAUTHORIZED... */
  static async connect(options: OpcuaClientOptions): Promise<OpcuaClient> {
    checkEndpointUrl(options.endpointUrl);
    const modeName = options.securityMode ?? 'None';
    const policyName: SecurityPolicyName = options.securityPolicy ?? (modeName === 'None' ? 'None' : 'Basic256Sha256');
    if ((modeName === 'None') !== (policyName === 'None')) {
      throw new EnergyMeshError('CONFIG_INVALID', `security mode ${modeName} needs ${modeName === 'None' ? 'policy None' : 'a policy other than None'} (got ${policyName})`, {
        details: { securityMode: modeName, securityPolicy: policyName },
      });
    }
    const pki = options.pki;
    if (modeName !== 'None' && !pki) throw new EnergyMeshError('CONFIG_INVALID', `security mode ${modeName} needs a PKI folder for our certificate`);
    const cm = pki ? await pki.certificateManager() : undefined;
    const client = OPCUAClient.create({
      applicationName: options.applicationName ?? pki?.applicationName ?? 'EnergyMesh',
      ...(pki ? { applicationUri: pki.applicationUri, clientCertificateManager: cm, certificateFile: pki.certificateFile, privateKeyFile: pki.privateKeyFile } : {}),
      endpointMustExist: false,
      securityMode: SECURITY_MODES[modeName],
      securityPolicy: SecurityPolicy[policyName],
      requestedSessionTimeout: options.sessionTimeoutMs ?? 60_000,
      defaultTransactionTimeout: options.requestTimeoutMs ?? 10_000,
      keepSessionAlive: true,
      // maxRetry applies to the first connect only; once connected node-opcua retries forever
      connectionStrategy: { maxRetry: 1, initialDelay: options.reconnectInitialDelayMs ?? 500, maxDelay: options.reconnectMaxDelayMs ?? 10_000 },
    });
    const where = { endpointUrl: options.endpointUrl, securityMode: modeName, securityPolicy: policyName };
    try {
      await client.connect(options.endpointUrl);
    } catch (e) {
      const err = toOpcuaError(e, `connect to ${options.endpointUrl}`, where);
      const serverCertificate = client.serverCertificate;
      await client.disconnect().catch(() => undefined);
      if (err.code === 'CERTIFICATE_UNTRUSTED') throw await untrusted(serverCertificate, options, err);
      throw err;
    }
    let session: ClientSession;
    try {
      const identity: UserIdentityInfo = options.user
        ? { type: UserTokenType.UserName, userName: options.user.username, password: options.user.password }
        : { type: UserTokenType.Anonymous };
      session = await client.createSession(identity);
    } catch (e) {
      await client.disconnect().catch(() => undefined);
      throw toOpcuaError(e, `open a session on ${options.endpointUrl}`, { ...where, user: options.user?.username ?? 'anonymous' });
    }
    return new OpcuaClient(client, session, options);
  }

  get endpointUrl(): string {
    return this.options.endpointUrl;
  }

  get connected(): boolean {
    return this.connectedNow && !this.closed;
  }

  onDidChangeState(listener: Listener<OpcuaStateChange>): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** The server's subscription-related limits (read once). */
  async limits(): Promise<OpcuaServerLimits> {
    if (this.limitsCache) return this.limitsCache;
    try {
      const ops = await readOperationLimits(this.session);
      const perSub = await this.session.read({ nodeId: coerceNodeId(VariableIds.Server_ServerCapabilities_MaxMonitoredItemsPerSubscription), attributeId: AttributeIds.Value });
      const v = perSub.statusCode.isGood() ? Number(perSub.value.value) : 0;
      this.limitsCache = {
        maxMonitoredItemsPerCall: ops.maxMonitoredItemsPerCall ?? 0,
        maxMonitoredItemsPerSubscription: Number.isFinite(v) ? v : 0,
        maxNodesPerRead: ops.maxNodesPerRead ?? 0,
        maxNodesPerBrowse: ops.maxNodesPerBrowse ?? 0,
      };
    } catch (e) {
      throw toOpcuaError(e, 'read server limits');
    }
    return this.limitsCache;
  }

  /**
   * Reads what we need to know about configured nodes: node class, data type, access, units.
   * Unknown or invalid node ids come back as errors (UNKNOWN_POINT / CONFIG_INVALID), not throws.
   */
  async inspect(nodeIds: readonly string[]): Promise<(VariableInfo | MethodInfo | EnergyMeshError)[]> {
    const parsed: (NodeId | EnergyMeshError)[] = nodeIds.map((n) => {
      try {
        return coerceNodeId(n);
      } catch (e) {
        return new EnergyMeshError('CONFIG_INVALID', `bad node id ${JSON.stringify(n)}: ${errorMessage(e)} (expected e.g. ns=1;s=PV1.ActivePower or i=2258)`, { details: { nodeId: n } });
      }
    });
    const good = parsed.filter((p): p is NodeId => !(p instanceof EnergyMeshError));
    const attrs = [AttributeIds.NodeClass, AttributeIds.DisplayName, AttributeIds.DataType, AttributeIds.AccessLevel, AttributeIds.UserAccessLevel];
    const values = await this.readChunked(good.flatMap((nodeId) => attrs.map((attributeId) => ({ nodeId, attributeId }))));
    const units = await this.engineeringUnits(good);
    const out: (VariableInfo | MethodInfo | EnergyMeshError)[] = [];
    let g = 0;
    for (let i = 0; i < parsed.length; i++) {
      const p = parsed[i] as NodeId | EnergyMeshError;
      const nodeId = nodeIds[i] as string;
      if (p instanceof EnergyMeshError) {
        out.push(p);
        continue;
      }
      const base = g * attrs.length;
      g++;
      const nc = values[base] as DataValue;
      if (!nc.statusCode.isGood()) {
        out.push(statusError('UNKNOWN_POINT', `node ${nodeId} is not in the server's address space`, nc.statusCode.value, { nodeId }));
        continue;
      }
      const displayName = String((values[base + 1]?.value.value as { text?: string } | null)?.text ?? nodeId);
      if (nc.value.value === NodeClass.Method) {
        out.push({ objectId: '', methodId: p.toString(), browsePath: displayName, inputs: await this.methodInputs(p.toString()) });
        continue;
      }
      if (nc.value.value !== NodeClass.Variable) {
        out.push(new EnergyMeshError('CONFIG_INVALID', `node ${nodeId} is a ${NodeClass[nc.value.value as number] ?? 'node'}, not a variable or a method`, { details: { nodeId } }));
        continue;
      }
      const dt = values[base + 2]?.value.value as NodeId | undefined;
      const builtIn = dt ? await this.builtInType(dt) : DataType.Null;
      this.dataTypes.set(p.toString(), builtIn);
      const access = Number(values[base + 3]?.value.value ?? 0);
      const userAccess = Number(values[base + 4]?.value.value ?? access);
      const unit = units.get(p.toString());
      out.push({
        nodeId: p.toString(),
        browsePath: displayName,
        displayName,
        dataType: dataTypeName(builtIn),
        builtInType: builtIn,
        readable: (access & userAccess & 1) !== 0,
        writable: (access & userAccess & 2) !== 0,
        ...(unit ? { engineeringUnits: unit } : {}),
      });
    }
    return out;
  }

  /**
   * Walks the address space below `root` (hierarchical references, forward) and returns its
   * variables (with data type, access and engineering units) and methods. Properties are not
   * variables of their own; EngineeringUnits properties give their parent's unit.
   */
  async discover(root: string, options: { maxDepth?: number; maxNodes?: number } = {}): Promise<DiscoveryResult> {
    const maxDepth = options.maxDepth ?? 10;
    const maxNodes = options.maxNodes ?? 10_000;
    let rootId: NodeId;
    try {
      rootId = coerceNodeId(root);
    } catch (e) {
      throw new EnergyMeshError('CONFIG_INVALID', `bad browse root ${JSON.stringify(root)}: ${errorMessage(e)}`, { details: { root } });
    }
    const variables: { nodeId: NodeId; path: string; name: string }[] = [];
    const methods: { objectId: string; methodId: string; path: string }[] = [];
    const seen = new Set<string>([rootId.toString()]);
    let frontier: { nodeId: NodeId; path: string }[] = [{ nodeId: rootId, path: '' }];
    let truncated = false;
    for (let depth = 0; depth < maxDepth && frontier.length > 0 && !truncated; depth++) {
      const refs = await this.browseAll(frontier.map((f) => f.nodeId));
      const next: { nodeId: NodeId; path: string }[] = [];
      for (let i = 0; i < frontier.length; i++) {
        const parent = frontier[i] as { nodeId: NodeId; path: string };
        for (const r of refs[i] ?? []) {
          const id = coerceNodeId(r.nodeId.toString());
          const key = id.toString();
          if (r.referenceTypeId.value === 46 && r.referenceTypeId.namespace === 0) continue; // HasProperty: not a point
          if (seen.has(key)) continue;
          seen.add(key);
          const name = r.browseName.name ?? key;
          const path = parent.path ? `${parent.path}/${name}` : name;
          if (r.nodeClass === NodeClass.Variable) variables.push({ nodeId: id, path, name: String(r.displayName.text ?? name) });
          if (r.nodeClass === NodeClass.Method) methods.push({ objectId: parent.nodeId.toString(), methodId: key, path });
          if (r.nodeClass === NodeClass.Object || r.nodeClass === NodeClass.Variable) next.push({ nodeId: id, path });
          if (variables.length + methods.length >= maxNodes) {
            truncated = true;
            break;
          }
        }
        if (truncated) break;
      }
      frontier = next;
    }
    const infos = await this.inspect(variables.map((v) => v.nodeId.toString()));
    const vars: VariableInfo[] = [];
    infos.forEach((info, i) => {
      if (info instanceof EnergyMeshError || !('dataType' in info)) return;
      const v = variables[i] as { path: string; name: string };
      vars.push({ ...info, browsePath: v.path, displayName: v.name });
    });
    const meths: MethodInfo[] = [];
    for (const m of methods) meths.push({ objectId: m.objectId, methodId: m.methodId, browsePath: m.path, inputs: await this.methodInputs(m.methodId) });
    return { variables: vars, methods: meths, truncated };
  }

  /** Creates monitored items in bulk: several subscriptions and calls when the server's limits demand it. */
  async subscribe(items: readonly MonitorSpec[], options: SubscriptionOptions = {}): Promise<MonitoredItemSet> {
    const keys = new Set<string>();
    for (const it of items) {
      if (keys.has(it.key)) throw new EnergyMeshError('INVALID_ARGUMENT', `duplicate monitored item key ${it.key}`, { details: { key: it.key } });
      keys.add(it.key);
    }
    const limits = await this.limits();
    const set = new MonitoredItemSet(this, items, options);
    await set.create(limits);
    this.sets.add(set);
    return set;
  }

  /** Writes `value` to a variable's Value, encoded as its data type (or `dataType` when given). */
  async write(nodeId: string, value: number | boolean | string, dataType?: DataType): Promise<OperationResult> {
    const id = this.nodeId(nodeId);
    const type = dataType ?? (await this.dataTypeOf(id));
    const variant = toVariant(value, type);
    let code: number;
    try {
      const sc = await this.session.write({ nodeId: id, attributeId: AttributeIds.Value, value: { value: variant } });
      code = sc.value;
    } catch (e) {
      throw toOpcuaError(e, `write ${nodeId}`, { nodeId });
    }
    return result(code);
  }

  /** Reads current values (for a one-off poll or a test). */
  async read(nodeIds: readonly string[]): Promise<ItemChange[]> {
    const dvs = await this.readChunked(nodeIds.map((n) => ({ nodeId: this.nodeId(n), attributeId: AttributeIds.Value })));
    return dvs.map((dv, i) => toChange(nodeIds[i] as string, nodeIds[i] as string, dv));
  }

  /** Calls a method; `args` are coerced to the method's InputArguments data types. */
  async call(objectId: string, methodId: string, args: readonly (number | boolean | string)[]): Promise<OperationResult> {
    const obj = this.nodeId(objectId);
    const meth = this.nodeId(methodId);
    let defs: { name: string; dataType: DataType }[];
    try {
      defs = await this.methodInputTypes(methodId);
    } catch (e) {
      throw toOpcuaError(e, `read the arguments of method ${methodId}`, { methodId });
    }
    if (args.length > defs.length) {
      throw new EnergyMeshError('INVALID_ARGUMENT', `method ${methodId} takes ${defs.length} argument(s), got ${args.length}`, { details: { methodId, expected: defs.length } });
    }
    if (args.length < defs.length) {
      throw new EnergyMeshError('INVALID_ARGUMENT', `method ${methodId} needs ${defs.length} argument(s) (${defs.map((d) => `${d.name}: ${dataTypeName(d.dataType)}`).join(', ')}), got ${args.length}`, {
        details: { methodId, expected: defs.length },
      });
    }
    const inputArguments = args.map((a, i) => toVariant(a, (defs[i] as { dataType: DataType }).dataType));
    try {
      const r = await this.session.call({ objectId: obj, methodId: meth, inputArguments });
      const out = result(r.statusCode.value);
      out.outputs = (r.outputArguments ?? []).map((v) => fromVariant(v));
      out.inputArgumentResults = (r.inputArgumentResults ?? []).map((s) => s.name);
      return out;
    } catch (e) {
      throw toOpcuaError(e, `call ${methodId}`, { objectId, methodId });
    }
  }

  /** Closes the subscriptions, the session and the connection (each step bounded, so a dead peer cannot hold it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const live = this.connectedNow;
    if (live) {
      for (const s of [...this.sets]) await bounded(s.close(), 2000);
      await bounded(this.session.close(true), 2000);
    } else {
      for (const s of [...this.sets]) s.abandon();
    }
    await bounded(this.client.disconnect(), 5000);
    this.emit({ state: 'closed' });
  }

  // -------------------------------------------------------------------------------------------
  /** @internal */
  forget(set: MonitoredItemSet): void {
    this.sets.delete(set);
  }

  private emit(e: OpcuaStateChange): void {
    for (const l of this.stateListeners) {
      try {
        l(e);
      } catch {
        // a listener's bug must not break the connection handling
      }
    }
  }

  private async afterRepair(): Promise<void> {
    if (this.closed) return;
    const restore: RestoreReport = { subscriptions: 0, transferred: 0, recreated: 0, items: 0, liveItems: 0 };
    for (const s of this.sets) {
      const r = s.restoreReport();
      restore.subscriptions += r.subscriptions;
      restore.transferred += r.transferred;
      restore.recreated += r.recreated;
      restore.items += r.items;
      restore.liveItems += r.liveItems;
    }
    this.emit({ state: 'restored', restore, ...(restore.liveItems < restore.items ? { reason: `${restore.items - restore.liveItems} monitored item(s) not restored` } : {}) });
  }

  private nodeId(n: string): NodeId {
    try {
      return coerceNodeId(n);
    } catch (e) {
      throw new EnergyMeshError('CONFIG_INVALID', `bad node id ${JSON.stringify(n)}: ${errorMessage(e)}`, { details: { nodeId: n } });
    }
  }

  private async builtInType(dataTypeId: NodeId): Promise<DataType> {
    if (dataTypeId.namespace === 0 && typeof dataTypeId.value === 'number' && dataTypeId.value >= 1 && dataTypeId.value <= 25) return dataTypeId.value as DataType;
    try {
      return await findBasicDataType(this.session, dataTypeId);
    } catch {
      return DataType.Null;
    }
  }

  private async dataTypeOf(id: NodeId): Promise<DataType> {
    const cached = this.dataTypes.get(id.toString());
    if (cached !== undefined) return cached;
    let dv: DataValue;
    try {
      dv = await this.session.read({ nodeId: id, attributeId: AttributeIds.DataType });
    } catch (e) {
      throw toOpcuaError(e, `read the data type of ${id.toString()}`, { nodeId: id.toString() });
    }
    if (!dv.statusCode.isGood()) throw statusError('UNKNOWN_POINT', `node ${id.toString()} has no data type`, dv.statusCode.value, { nodeId: id.toString() });
    const t = await this.builtInType(dv.value.value as NodeId);
    this.dataTypes.set(id.toString(), t);
    return t;
  }

  private async methodInputTypes(methodId: string): Promise<{ name: string; dataType: DataType }[]> {
    const defs = await this.session.getArgumentDefinition(this.nodeId(methodId));
    const out: { name: string; dataType: DataType }[] = [];
    for (const a of defs.inputArguments) out.push({ name: a.name ?? '', dataType: await this.builtInType(a.dataType) });
    return out;
  }

  private async methodInputs(methodId: string): Promise<{ name: string; dataType: string }[]> {
    try {
      return (await this.methodInputTypes(methodId)).map((d) => ({ name: d.name, dataType: dataTypeName(d.dataType) }));
    } catch {
      return [];
    }
  }

  private async readChunked(nodes: { nodeId: NodeId; attributeId: AttributeIds }[]): Promise<DataValue[]> {
    const limits = this.limitsCache ?? (await this.limits());
    const chunk = limits.maxNodesPerRead > 0 ? limits.maxNodesPerRead : 1000;
    const out: DataValue[] = [];
    for (let i = 0; i < nodes.length; i += chunk) {
      try {
        out.push(...(await this.session.read(nodes.slice(i, i + chunk))));
      } catch (e) {
        throw toOpcuaError(e, 'read');
      }
    }
    return out;
  }

  private async browseAll(nodeIds: NodeId[]): Promise<ReferenceDescription[][]> {
    const limits = this.limitsCache ?? (await this.limits());
    const chunk = limits.maxNodesPerBrowse > 0 ? limits.maxNodesPerBrowse : 500;
    const out: ReferenceDescription[][] = [];
    for (let i = 0; i < nodeIds.length; i += chunk) {
      const descs: BrowseDescriptionLike[] = nodeIds.slice(i, i + chunk).map((nodeId) => ({
        nodeId,
        browseDirection: BrowseDirection.Forward,
        referenceTypeId: 'HierarchicalReferences',
        includeSubtypes: true,
        nodeClassMask: NodeClass.Object | NodeClass.Variable | NodeClass.Method,
        resultMask: 0x3f,
      }));
      try {
        const results = await this.session.browse(descs);
        for (const r of results) {
          const refs = [...(r.references ?? [])];
          let cp = r.continuationPoint;
          while (cp && cp.length > 0) {
            const more = await this.session.browseNext(cp, false);
            refs.push(...(more.references ?? []));
            cp = more.continuationPoint;
          }
          out.push(refs);
        }
      } catch (e) {
        throw toOpcuaError(e, 'browse');
      }
    }
    return out;
  }

  /** EngineeringUnits (EUInformation.displayName) of variables that have that property. */
  private async engineeringUnits(nodeIds: NodeId[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (nodeIds.length === 0) return out;
    let results: { propertyOf: string; nodeId: NodeId }[] = [];
    try {
      const props = await this.session.browse(
        nodeIds.map((nodeId) => ({ nodeId, browseDirection: BrowseDirection.Forward, referenceTypeId: 'HasProperty', includeSubtypes: true, nodeClassMask: NodeClass.Variable, resultMask: 0x3f })),
      );
      results = props.flatMap((r, i) =>
        (r.references ?? []).filter((ref) => ref.browseName.name === 'EngineeringUnits').map((ref) => ({ propertyOf: (nodeIds[i] as NodeId).toString(), nodeId: coerceNodeId(ref.nodeId.toString()) })),
      );
    } catch {
      return out;
    }
    if (results.length === 0) return out;
    const dvs = await this.readChunked(results.map((r) => ({ nodeId: r.nodeId, attributeId: AttributeIds.Value })));
    dvs.forEach((dv, i) => {
      const eu = dv.value.value as { displayName?: { text?: string | null } } | null;
      const text = eu?.displayName?.text;
      if (dv.statusCode.isGood() && text) out.set((results[i] as { propertyOf: string }).propertyOf, text);
    });
    return out;
  }
}

/** Waits for `p` at most `ms`; never rejects. */
async function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  if (timer) clearTimeout(timer);
}

function result(code: number): OperationResult {
  return { statusCode: code >>> 0, statusName: statusCodeName(code), good: (code & 0xc000_0000) === 0 };
}

function toChange(key: string, nodeId: string, dv: DataValue): ItemChange {
  const statusCode = dv.statusCode.value >>> 0;
  const c: ItemChange = { key, nodeId, value: (statusCode & 0x8000_0000) !== 0 && dv.value.dataType === DataType.Null ? null : fromVariant(dv.value), statusCode, quality: qualityFromStatusCode(statusCode) };
  if (dv.sourceTimestamp) c.sourceTimestamp = dv.sourceTimestamp.getTime();
  if (dv.serverTimestamp) c.serverTimestamp = dv.serverTimestamp.getTime();
  return c;
}

async function untrusted(cert: Buffer | Buffer[] | undefined, options: OpcuaClientOptions, cause: EnergyMeshError): Promise<EnergyMeshError> {
  const der = Array.isArray(cert) ? cert[0] : cert;
  let thumbprint = der && der.length > 0 ? certificateThumbprint(Buffer.from(der)) : undefined;
  if (!thumbprint && options.pki) {
    // node-opcua did not keep it: the newest certificate in rejected/ is the one it just refused
    const rejected = (await options.pki.list().catch(() => [])).filter((c) => c.status === 'rejected');
    thumbprint = rejected.sort((a, b) => b.mtimeMs - a.mtimeMs)[0]?.thumbprint;
  }
  const how = thumbprint
    ? (options.trustHint?.(thumbprint) ?? `trust it with OpcuaPki.trust('${thumbprint}') on ${options.pki?.rootFolder ?? 'the PKI folder'}`)
    : 'list the rejected certificates and trust the server’s';
  return new EnergyMeshError(
    'CERTIFICATE_UNTRUSTED',
    `the server certificate of ${options.endpointUrl}${thumbprint ? ` (thumbprint ${thumbprint})` : ''} is not trusted: ${how}`,
    { retriable: true, cause, details: { ...cause.details, endpointUrl: options.endpointUrl, ...(thumbprint ? { thumbprint } : {}), statusName: 'BadCertificateUntrusted', howToTrust: how } },
  );
}

function monitoringKey(s: MonitorSpec, d: SubscriptionOptions['defaults']): string {
  const sampling = s.samplingIntervalMs ?? d?.samplingIntervalMs ?? -1;
  const queue = s.queueSize ?? d?.queueSize ?? 10;
  const db = s.deadband ?? d?.deadband;
  return `${sampling}|${queue}|${db ? `${db.type}:${db.value}` : '-'}`;
}

function monitoringParameters(key: string): MonitoringParametersOptions {
  const [sampling, queue, db] = key.split('|');
  let filter: DataChangeFilter | null = null;
  if (db && db !== '-') {
    const [type, value] = db.split(':');
    filter = new DataChangeFilter({
      trigger: DataChangeTrigger.StatusValue,
      deadbandType: type === 'percent' ? DeadbandType.Percent : DeadbandType.Absolute,
      deadbandValue: Number(value),
    });
  }
  return { samplingInterval: Number(sampling), queueSize: Number(queue), discardOldest: true, filter };
}

/** Changes kept while nobody listens yet (oldest dropped beyond this). */
const MAX_PENDING = 100_000;

interface GroupEntry {
  group: ClientMonitoredItemGroup;
  specs: MonitorSpec[];
}

interface SubscriptionEntry {
  subscription: ClientSubscription;
  groups: GroupEntry[];
  recreated: boolean;
}

/**
 * The monitored items of one `subscribe` call, spread over as many subscriptions and
 * CreateMonitoredItems calls as the limits need. Changes are delivered in batches (one per tick).
 */
export class MonitoredItemSet {
  private readonly listeners = new Set<Listener<ItemChange[]>>();
  private readonly subs: SubscriptionEntry[] = [];
  private readonly statuses = new Map<string, ItemStatus>();
  readonly dedup = new ValueDedup();
  private pending: ItemChange[] = [];
  private flushScheduled: NodeJS.Immediate | undefined;
  private closed = false;
  /** CreateMonitoredItems calls made at creation. */
  calls = 0;

  constructor(
    private readonly owner: OpcuaClient,
    private readonly specs: readonly MonitorSpec[],
    private readonly options: SubscriptionOptions,
  ) {}

  /** Number of subscriptions used. */
  get subscriptionCount(): number {
    return this.subs.length;
  }

  /** Per-item creation result (e.g. BadNodeIdUnknown for a node the server does not have). */
  itemStatuses(): ItemStatus[] {
    return this.specs.map((s) => this.statuses.get(s.key) ?? { key: s.key, nodeId: s.nodeId, statusCode: StatusCodes.BadWaitingForInitialData.value, statusName: 'BadWaitingForInitialData', ok: false });
  }

  /**
   * Listens to the changes. Changes that arrive before the first listener (the initial values
   * come while `subscribe` is still creating items) are kept and handed to it.
   */
  onDidReceive(listener: Listener<ItemChange[]>): () => void {
    this.listeners.add(listener);
    if (this.pending.length > 0 && !this.flushScheduled) this.flushScheduled = setImmediate(this.flushBound);
    return () => this.listeners.delete(listener);
  }

  /** @internal */
  async create(limits: OpcuaServerLimits): Promise<void> {
    const keys = this.specs.map((s) => monitoringKey(s, this.options.defaults));
    const plan = planMonitoredItems(keys, {
      serverPerCall: limits.maxMonitoredItemsPerCall,
      serverPerSubscription: limits.maxMonitoredItemsPerSubscription,
      perCall: this.options.maxItemsPerCall ?? 0,
      perSubscription: this.options.maxItemsPerSubscription ?? 0,
    });
    const session = this.owner.session;
    for (const planned of plan) {
      let subscription: ClientSubscription;
      try {
        subscription = await session.createSubscription2({
          requestedPublishingInterval: this.options.publishingIntervalMs ?? 1000,
          requestedLifetimeCount: 120,
          requestedMaxKeepAliveCount: 10,
          maxNotificationsPerPublish: this.options.maxNotificationsPerPublish ?? 0,
          publishingEnabled: true,
          priority: 1,
        });
      } catch (e) {
        throw toOpcuaError(e, 'create a subscription');
      }
      const entry: SubscriptionEntry = { subscription, groups: [], recreated: false };
      subscription.on('subscriptionId_changed', () => {
        entry.recreated = true;
      });
      this.subs.push(entry);
      for (const call of planned.calls) {
        const specs = call.items.map((i) => this.specs[i] as MonitorSpec);
        // the handler goes on before creation: the initial values may arrive before the call returns
        const group = ClientMonitoredItemGroup.create(
          subscription,
          specs.map((s) => ({ nodeId: s.nodeId, attributeId: AttributeIds.Value })),
          monitoringParameters(call.paramsKey),
          TimestampsToReturn.Both,
        );
        group.on('changed', (_mi: ClientMonitoredItemBase, dv: DataValue, index: number) => {
          const spec = specs[index];
          if (spec) this.receive(spec, dv);
        });
        try {
          await new Promise<void>((resolve, reject) => {
            group.once('initialized', () => resolve());
            group.once('err', (message: string) => reject(new Error(message)));
          });
        } catch (e) {
          throw toOpcuaError(e, `create ${specs.length} monitored items`);
        }
        this.calls++;
        const ge: GroupEntry = { group, specs };
        entry.groups.push(ge);
        group.monitoredItems.forEach((mi, idx) => this.recordStatus(specs[idx] as MonitorSpec, mi));
      }
    }
  }

  /** What the last repair did and how many items are live now (per the client's bookkeeping). */
  restoreReport(): RestoreReport {
    let items = 0;
    let live = 0;
    let recreated = 0;
    for (const s of this.subs) {
      if (s.recreated) recreated++;
      s.recreated = false;
      for (const g of s.groups) {
        g.group.monitoredItems.forEach((mi, idx) => {
          items++;
          const spec = g.specs[idx] as MonitorSpec;
          this.recordStatus(spec, mi);
          if (this.statuses.get(spec.key)?.ok) live++;
        });
      }
    }
    return { subscriptions: this.subs.length, transferred: this.subs.length - recreated, recreated, items, liveItems: live };
  }

  /**
   * Asks the server (GetMonitoredItems) how many monitored items each of our subscriptions has,
   * to check that none was lost, e.g. after a reconnection.
   */
  async verifyOnServer(): Promise<{ subscriptions: number; expected: number; onServer: number }> {
    let expected = 0;
    let onServer = 0;
    for (const s of this.subs) {
      expected += s.groups.reduce((n, g) => n + g.specs.length, 0);
      try {
        const r = await s.subscription.getMonitoredItems();
        onServer += r.serverHandles.length;
      } catch (e) {
        throw toOpcuaError(e, 'GetMonitoredItems');
      }
    }
    return { subscriptions: this.subs.length, expected, onServer };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.flushScheduled) clearImmediate(this.flushScheduled);
    this.flushScheduled = undefined;
    for (const s of this.subs) await s.subscription.terminate().catch(() => undefined);
    this.owner.forget(this);
  }

  /** @internal Stops delivering without talking to the server (the connection is gone). */
  abandon(): void {
    this.closed = true;
    if (this.flushScheduled) clearImmediate(this.flushScheduled);
    this.flushScheduled = undefined;
    this.owner.forget(this);
  }

  private recordStatus(spec: MonitorSpec, mi: ClientMonitoredItemBase): void {
    const code = mi.statusCode.value >>> 0;
    this.statuses.set(spec.key, { key: spec.key, nodeId: spec.nodeId, statusCode: code, statusName: statusCodeName(code), ok: (code & 0xc000_0000) === 0 });
  }

  /**
   * One data change (runs 100k times a second at the target rate): the dedup looks at the fields first, and
   * only a new change becomes an ItemChange (its quality object is shared per StatusCode).
   */
  private receive(spec: MonitorSpec, dv: DataValue): void {
    if (this.closed) return;
    const statusCode = dv.statusCode.value >>> 0;
    const value = (statusCode & 0x8000_0000) !== 0 && dv.value.dataType === DataType.Null ? null : fromVariant(dv.value);
    const sourceTimestamp = dv.sourceTimestamp ? dv.sourceTimestamp.getTime() : undefined;
    const serverTimestamp = dv.serverTimestamp ? dv.serverTimestamp.getTime() : undefined;
    if (!this.dedup.acceptFields(spec.key, value, statusCode, sourceTimestamp, dv.sourcePicoseconds, serverTimestamp)) return;
    const change: ItemChange = { key: spec.key, nodeId: spec.nodeId, value, statusCode, quality: qualityFromStatusCode(statusCode) };
    if (sourceTimestamp !== undefined) change.sourceTimestamp = sourceTimestamp;
    if (serverTimestamp !== undefined) change.serverTimestamp = serverTimestamp;
    this.pending.push(change);
    if (this.pending.length > MAX_PENDING) this.pending.splice(0, this.pending.length - MAX_PENDING);
    if (!this.flushScheduled) this.flushScheduled = setImmediate(this.flushBound);
  }

  private readonly flushBound = (): void => this.flush();

  private flush(): void {
    this.flushScheduled = undefined;
    if (this.listeners.size === 0) return; // kept for the first listener
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    for (const l of this.listeners) {
      try {
        l(batch);
      } catch {
        // listener bugs stay with the listener
      }
    }
  }
}
