/**
 * An OPC UA server with a small DER / substation address space, for tests, the demo and the bench.
 *
 * Address space (namespace 1, string node ids, all under Objects/EnergyMesh):
 *   Substation/Bus1        Voltage (V), Frequency (Hz)
 *   Substation/Feeder<i>   BreakerClosed (Boolean, writable), Current (A), ActivePower (kW)
 *   PV1                    ActivePower (kW), ReactivePower (kvar), Irradiance (W/m²),
 *                          ActivePowerLimit (% of rated, writable), ReactivePowerSetpoint (kvar, writable)
 *   Battery1               StateOfCharge (%), ActivePower (kW, + = charging), ChargeSetpoint (kW, writable)
 *   Alarms                 Active (Boolean), Count (UInt32), method ResetAlarms() → UInt32 cleared
 *   Info                   Nameplate (String, read-only), RatedPower (Double, read-only)  — static
 *   Diagnostics            Uncertain (Double, UncertainSensorNotAccurate), Bad (Double, BadSensorFailure) — static
 *   Bench                  V00000 … (Double), `variables` of them, each changing every tick (for the bench)
 *
 * Node ids are `ns=1;s=<Path>.<Name>` e.g. `ns=1;s=PV1.ActivePower`, `ns=1;s=Substation.Feeder1.BreakerClosed`.
 * Setpoints feed the simulation: PV output is capped by ActivePowerLimit, the battery SoC integrates
 * ChargeSetpoint, an open breaker drops its feeder's power and raises an alarm until ResetAlarms.
 */
import { mkdirSync } from 'node:fs';
import {
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCodes,
  makeEUInformation,
  standardUnits,
} from 'node-opcua';
import type { CallMethodResultOptions, EUInformation, ISessionContext, Namespace, UAObject, UAVariable, UserManagerOptions, Variant } from 'node-opcua';

export interface DerSimulatorOptions {
  /** TCP port (a fixed one: OPC UA endpoints carry their port, so 0 is not supported). */
  port: number;
  /** Address to bind; 127.0.0.1 by default. */
  host?: string;
  /** Number of Bench variables (default 0). */
  variables?: number;
  /** Simulation tick (ms); every changing variable changes once per tick. Default 1000. */
  rateMs?: number;
  /** Number of feeders (default 3). */
  feeders?: number;
  /** Folder of the server's PKI (own certificate, trusted clients); created if missing. */
  pkiDir: string;
  /** Accepted user names and passwords; anonymous is always allowed unless `anonymous` is false. */
  users?: { username: string; password: string }[];
  anonymous?: boolean;
  /** Server limits advertised in ServerCapabilities and enforced. */
  maxMonitoredItemsPerCall?: number;
  maxMonitoredItemsPerSubscription?: number;
  /** Source time (epoch ms) of the static variables; default the start time. Lets tests detect replays across restarts. */
  staticSourceTime?: number;
}

const kvar: EUInformation = makeEUInformation('kvar', 'kvar', 'kilovolt-ampere reactive');
const wPerM2: EUInformation = makeEUInformation('W/m2', 'W/m²', 'watt per square metre');

/** The DER / substation simulator server. */
export class DerSimulator {
  private server: OPCUAServer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly vars = new Map<string, UAVariable>();
  private bench: UAVariable[] = [];
  private tick = 0;
  private alarmCount = 0;
  private soc = 55;

  constructor(private readonly options: DerSimulatorOptions) {}

  get endpointUrl(): string {
    return `opc.tcp://${this.options.host ?? '127.0.0.1'}:${this.options.port}`;
  }

  /** Number of variables that change every tick. */
  get changingVariables(): number {
    return this.bench.length + 9 + 2 * (this.options.feeders ?? 3);
  }

  async start(): Promise<void> {
    const o = this.options;
    mkdirSync(o.pkiDir, { recursive: true });
    const serverCertificateManager = new OPCUACertificateManager({ rootFolder: o.pkiDir, automaticallyAcceptUnknownCertificate: true, disableFileWatchers: true });
    await serverCertificateManager.initialize();
    const users = o.users ?? [];
    const userManager: UserManagerOptions = {
      isValidUser: (username: string, password: string) => users.some((u) => u.username === username && u.password === password),
    };
    const server = new OPCUAServer({
      port: o.port,
      host: o.host ?? '127.0.0.1',
      hostname: o.host ?? '127.0.0.1',
      alternateHostname: [],
      serverCertificateManager,
      securityModes: [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
      securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256, SecurityPolicy.Aes128_Sha256_RsaOaep, SecurityPolicy.Aes256_Sha256_RsaPss],
      allowAnonymous: o.anonymous ?? true,
      userManager,
      disableDiscovery: true,
      serverInfo: { applicationUri: 'urn:energymesh:der-simulator', productUri: 'urn:energymesh:der-simulator', applicationName: { text: 'EnergyMesh DER simulator' } },
      buildInfo: { productName: 'EnergyMesh DER simulator', manufacturerName: 'EnergyMesh' },
      serverCapabilities: {
        maxMonitoredItemsPerSubscription: o.maxMonitoredItemsPerSubscription ?? 100_000,
        maxMonitoredItems: 1_000_000,
        operationLimits: { maxMonitoredItemsPerCall: o.maxMonitoredItemsPerCall ?? 10_000 },
      },
    });
    await server.initialize();
    this.build(server);
    await server.start();
    this.server = server;
    this.timer = setInterval(() => this.step(), o.rateMs ?? 1000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const s = this.server;
    this.server = undefined;
    if (s) await s.shutdown(0);
  }

  // -------------------------------------------------------------------------------------------

  private build(server: OPCUAServer): void {
    const addressSpace = server.engine.addressSpace;
    if (!addressSpace) throw new Error('server has no address space');
    const ns = addressSpace.getOwnNamespace();
    const root = ns.addFolder(addressSpace.rootFolder.objects, { browseName: 'EnergyMesh', nodeId: `s=EnergyMesh` });
    const staticTime = new Date(this.options.staticSourceTime ?? Date.now());

    const sub = ns.addFolder(root, { browseName: 'Substation', nodeId: 's=Substation' });
    const bus = ns.addObject({ organizedBy: sub, browseName: 'Bus1', nodeId: 's=Substation.Bus1' });
    this.analog(ns, bus, 'Substation.Bus1.Voltage', 'Voltage', standardUnits.volt, 0, 30_000, false);
    this.analog(ns, bus, 'Substation.Bus1.Frequency', 'Frequency', standardUnits.hertz, 45, 55, false);
    for (let i = 1; i <= (this.options.feeders ?? 3); i++) {
      const f = ns.addObject({ organizedBy: sub, browseName: `Feeder${i}`, nodeId: `s=Substation.Feeder${i}` });
      this.scalar(ns, f, `Substation.Feeder${i}.BreakerClosed`, 'BreakerClosed', DataType.Boolean, true, true);
      this.analog(ns, f, `Substation.Feeder${i}.Current`, 'Current', standardUnits.ampere, 0, 1000, false);
      this.analog(ns, f, `Substation.Feeder${i}.ActivePower`, 'ActivePower', standardUnits.kilowatt, -10_000, 10_000, false);
    }

    const pv = ns.addObject({ organizedBy: root, browseName: 'PV1', nodeId: 's=PV1' });
    this.analog(ns, pv, 'PV1.ActivePower', 'ActivePower', standardUnits.kilowatt, 0, 500, false);
    this.analog(ns, pv, 'PV1.ReactivePower', 'ReactivePower', kvar, -250, 250, false);
    this.analog(ns, pv, 'PV1.Irradiance', 'Irradiance', wPerM2, 0, 1400, false);
    this.analog(ns, pv, 'PV1.ActivePowerLimit', 'ActivePowerLimit', standardUnits.percent, 0, 100, true, 100);
    this.analog(ns, pv, 'PV1.ReactivePowerSetpoint', 'ReactivePowerSetpoint', kvar, -250, 250, true, 0);

    const bat = ns.addObject({ organizedBy: root, browseName: 'Battery1', nodeId: 's=Battery1' });
    this.analog(ns, bat, 'Battery1.StateOfCharge', 'StateOfCharge', standardUnits.percent, 0, 100, false, this.soc);
    this.analog(ns, bat, 'Battery1.ActivePower', 'ActivePower', standardUnits.kilowatt, -200, 200, false);
    this.analog(ns, bat, 'Battery1.ChargeSetpoint', 'ChargeSetpoint', standardUnits.kilowatt, -200, 200, true, 0);

    const alarms = ns.addObject({ organizedBy: root, browseName: 'Alarms', nodeId: 's=Alarms' });
    this.scalar(ns, alarms, 'Alarms.Active', 'Active', DataType.Boolean, false, false);
    this.scalar(ns, alarms, 'Alarms.Count', 'Count', DataType.UInt32, 0, false);
    const reset = ns.addMethod(alarms, {
      browseName: 'ResetAlarms',
      nodeId: 's=Alarms.ResetAlarms',
      inputArguments: [],
      outputArguments: [{ name: 'Cleared', dataType: DataType.UInt32, description: { text: 'number of alarms cleared' } }],
    });
    // node-opcua tells promise-style handlers by their arity: exactly two parameters
    reset.bindMethod(async (_inputArguments: Variant[], _context: ISessionContext): Promise<CallMethodResultOptions> => {
      const cleared = this.alarmCount;
      this.alarmCount = 0;
      this.set('Alarms.Count', DataType.UInt32, 0);
      this.set('Alarms.Active', DataType.Boolean, false);
      return { statusCode: StatusCodes.Good, outputArguments: [{ dataType: DataType.UInt32, value: cleared }] };
    });
    const raise = ns.addMethod(alarms, {
      browseName: 'RaiseAlarm',
      nodeId: 's=Alarms.RaiseAlarm',
      inputArguments: [{ name: 'Severity', dataType: DataType.UInt16, description: { text: 'alarm severity 1..1000' } }],
      outputArguments: [],
    });
    raise.bindMethod(async (inputArguments: Variant[], _context: ISessionContext): Promise<CallMethodResultOptions> => {
      const severity = Number(inputArguments[0]?.value ?? 0);
      if (!(severity >= 1 && severity <= 1000)) return { statusCode: StatusCodes.BadOutOfRange };
      this.raiseAlarm();
      return { statusCode: StatusCodes.Good };
    });

    const info = ns.addObject({ organizedBy: root, browseName: 'Info', nodeId: 's=Info' });
    this.scalar(ns, info, 'Info.Nameplate', 'Nameplate', DataType.String, 'EnergyMesh DER simulator / PV 500 kW / BESS 200 kW', false, staticTime);
    this.analog(ns, info, 'Info.RatedPower', 'RatedPower', standardUnits.kilowatt, 0, 1000, false, 500, staticTime);
    const diag = ns.addObject({ organizedBy: root, browseName: 'Diagnostics', nodeId: 's=Diagnostics' });
    this.scalar(ns, diag, 'Diagnostics.Uncertain', 'Uncertain', DataType.Double, 42.5, false, staticTime, StatusCodes.UncertainSensorNotAccurate);
    this.scalar(ns, diag, 'Diagnostics.Bad', 'Bad', DataType.Double, 0, false, staticTime, StatusCodes.BadSensorFailure);

    const n = this.options.variables ?? 0;
    if (n > 0) {
      const benchFolder = ns.addFolder(root, { browseName: 'Bench', nodeId: 's=Bench' });
      for (let i = 0; i < n; i++) {
        const name = `V${String(i).padStart(5, '0')}`;
        this.bench.push(this.scalar(ns, benchFolder, `Bench.${name}`, name, DataType.Double, 0, false));
      }
    }
  }

  private scalar(
    ns: Namespace,
    parent: UAObject,
    id: string,
    name: string,
    dataType: DataType,
    initial: number | boolean | string,
    writable: boolean,
    sourceTime?: Date,
    status = StatusCodes.Good,
  ): UAVariable {
    const v = ns.addVariable({
      componentOf: parent,
      browseName: name,
      nodeId: `s=${id}`,
      dataType,
      accessLevel: writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
      userAccessLevel: writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
      minimumSamplingInterval: 0,
    });
    v.setValueFromSource({ dataType, value: initial }, status, sourceTime ?? new Date());
    this.vars.set(id, v);
    return v;
  }

  private analog(ns: Namespace, parent: UAObject, id: string, name: string, unit: EUInformation, low: number, high: number, writable: boolean, initial = 0, sourceTime?: Date): UAVariable {
    const v = ns.addAnalogDataItem({
      componentOf: parent,
      browseName: name,
      nodeId: `s=${id}`,
      dataType: 'Double',
      engineeringUnits: unit,
      engineeringUnitsRange: { low, high },
      accessLevel: writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
      userAccessLevel: writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
      minimumSamplingInterval: 0,
    }) as unknown as UAVariable;
    v.setValueFromSource({ dataType: DataType.Double, value: initial }, StatusCodes.Good, sourceTime ?? new Date());
    this.vars.set(id, v);
    return v;
  }

  private get(id: string): number | boolean {
    const v = this.vars.get(id)?.readValue().value.value as unknown;
    return typeof v === 'number' || typeof v === 'boolean' ? v : 0;
  }

  private set(id: string, dataType: DataType, value: number | boolean): void {
    this.vars.get(id)?.setValueFromSource({ dataType, value }, StatusCodes.Good, new Date());
  }

  private raiseAlarm(): void {
    this.alarmCount++;
    this.set('Alarms.Count', DataType.UInt32, this.alarmCount);
    this.set('Alarms.Active', DataType.Boolean, true);
  }

  private readonly breakerWas = new Map<number, boolean>();

  /** One simulation tick. */
  private step(): void {
    const t = ++this.tick;
    const dtH = (this.options.rateMs ?? 1000) / 3_600_000;
    const irradiance = Math.max(0, 800 + 200 * Math.sin(t / 50) + 20 * Math.sin(t * 1.7));
    const limit = Number(this.get('PV1.ActivePowerLimit'));
    const pv = Math.min((500 * irradiance) / 1000, (500 * limit) / 100);
    this.set('PV1.Irradiance', DataType.Double, round(irradiance));
    this.set('PV1.ActivePower', DataType.Double, round(pv));
    this.set('PV1.ReactivePower', DataType.Double, round(Number(this.get('PV1.ReactivePowerSetpoint')) + 0.1 * Math.sin(t)));

    let setpoint = Number(this.get('Battery1.ChargeSetpoint'));
    if ((setpoint > 0 && this.soc >= 100) || (setpoint < 0 && this.soc <= 0)) setpoint = 0;
    this.soc = Math.min(100, Math.max(0, this.soc + (setpoint * dtH * 100) / 400)); // 400 kWh battery
    this.set('Battery1.StateOfCharge', DataType.Double, round(this.soc, 4));
    this.set('Battery1.ActivePower', DataType.Double, round(setpoint));

    let load = 0;
    for (let i = 1; i <= (this.options.feeders ?? 3); i++) {
      const closed = this.get(`Substation.Feeder${i}.BreakerClosed`) === true;
      if (this.breakerWas.get(i) === true && !closed) this.raiseAlarm();
      this.breakerWas.set(i, closed);
      const p = closed ? 300 * i + 40 * Math.sin(t / 7 + i) : 0;
      load += p;
      this.set(`Substation.Feeder${i}.ActivePower`, DataType.Double, round(p));
      this.set(`Substation.Feeder${i}.Current`, DataType.Double, round((p * 1000) / (Math.sqrt(3) * 20_000)));
    }
    const net = load + setpoint - pv;
    this.set('Substation.Bus1.Voltage', DataType.Double, round(20_000 - net * 0.2 + 5 * Math.sin(t)));
    this.set('Substation.Bus1.Frequency', DataType.Double, round(50 - net * 0.00001 + 0.01 * Math.sin(t / 3), 4));

    const now = new Date();
    for (let i = 0; i < this.bench.length; i++) {
      this.bench[i]?.setValueFromSource({ dataType: DataType.Double, value: t + i / 100_000 }, StatusCodes.Good, now);
    }
  }
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
