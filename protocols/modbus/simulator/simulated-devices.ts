/**
 * Simulated field devices with SunSpec maps whose values change over time:
 *   - PV inverter (models 1, 103, 123): output follows a day curve with noise, capped by WMaxLimPct;
 *   - battery (models 1, 124, 802): power follows StorCtl_Mod with InWRte/OutWRte, SoC integrates it,
 *     stops at the reserve (MinRsvPct / SoCRsvMin) and at full;
 *   - revenue meter (models 1, 203): a load profile with noise; energy registers accumulate;
 *   - generic: R holding registers at 0..R-1 that all change every tick (for load tests).
 * Sign conventions: meter W > 0 imports from the grid; battery W > 0 discharges (802 W and 124 flows).
 */
import { RegisterBank } from './register-bank.ts';
import { SunSpecImage } from './sunspec-image.ts';

export type SimulatedKind = 'pv' | 'battery' | 'meter' | 'generic';

export interface SimulatedDeviceOptions {
  /** Used in the common model's serial number. */
  id: string;
  /** Generic devices: number of holding registers (default 100). */
  registers?: number;
  /** PV: rated power in W (default 10000); battery: max charge/discharge power (default 5000); meter: PV behind the meter (default 0). */
  ratedW?: number;
  /** Battery capacity in Wh (default 10000). */
  capacityWh?: number;
  /** Battery initial SoC in % (default 50). */
  initialSoc?: number;
  /** Length of a simulated day in seconds (default 86400: real time). */
  dayLengthS?: number;
  /** Where the SunSpec map starts (default 40000). */
  sunspecBase?: number;
  /** Seed of the noise (default from the id). */
  seed?: number;
}

export interface SimulatedDevice {
  readonly kind: SimulatedKind;
  readonly id: string;
  readonly bank: RegisterBank;
  readonly image?: SunSpecImage;
  /** Advances the simulation to `nowMs` (dtS seconds since the last tick). */
  tick(nowMs: number, dtS: number): void;
}

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedOf(id: string): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return h >>> 0;
}

function common(image: SunSpecImage, model: string, id: string): void {
  image.setRaw('common', 'Mn', 'EnergyMesh');
  image.setRaw('common', 'Md', model);
  image.setRaw('common', 'Opt', 'simulated');
  image.setRaw('common', 'Vr', '0.1.0');
  image.setRaw('common', 'SN', id.slice(0, 32));
  image.setRaw('common', 'DA', 1);
}

/** Hours into the simulated day. */
function hourOfDay(nowMs: number, dayLengthS: number): number {
  const dayMs = dayLengthS * 1000;
  const t = dayLengthS === 86400 ? nowMs - new Date(nowMs).getTimezoneOffset() * 60_000 : nowMs;
  return ((t % dayMs) / dayMs) * 24;
}

export class PvInverter implements SimulatedDevice {
  readonly kind = 'pv' as const;
  readonly id: string;
  readonly bank = new RegisterBank();
  readonly image: SunSpecImage;
  private readonly rated: number;
  private readonly dayLengthS: number;
  private readonly random: () => number;
  private energyWh = 0;

  constructor(o: SimulatedDeviceOptions) {
    this.id = o.id;
    this.rated = o.ratedW ?? 10_000;
    this.dayLengthS = o.dayLengthS ?? 86_400;
    this.random = rng(o.seed ?? seedOf(o.id));
    const img = (this.image = new SunSpecImage(this.bank, [1, 103, 123], o.sunspecBase ?? 40000));
    common(img, 'PV inverter sim', o.id);
    const sfs: [string, number][] = [
      ['A_SF', -2],
      ['V_SF', -1],
      ['W_SF', 0],
      ['Hz_SF', -2],
      ['VA_SF', 0],
      ['VAr_SF', 0],
      ['PF_SF', -1],
      ['WH_SF', 0],
      ['DCA_SF', -2],
      ['DCV_SF', -1],
      ['DCW_SF', 0],
      ['Tmp_SF', -1],
    ];
    for (const [n, v] of sfs) img.setRaw('inverter', n, v);
    img.setRaw('controls', 'WMaxLimPct_SF', -1);
    img.setRaw('controls', 'OutPFSet_SF', -3);
    img.setRaw('controls', 'VArPct_SF', 0);
    img.set('controls', 'WMaxLimPct', 100);
    img.setRaw('controls', 'WMaxLim_Ena', 1);
    img.setRaw('controls', 'Conn', 1);
    for (const n of ['Conn_WinTms', 'Conn_RvrtTms', 'WMaxLimPct_WinTms', 'WMaxLimPct_RvrtTms', 'WMaxLimPct_RmpTms']) img.setRaw('controls', n, 0);
    img.setRaw('inverter', 'Evt1', 0);
    img.setRaw('inverter', 'Evt2', 0);
    this.tick(Date.now(), 0);
  }

  /** The current output limit in W. */
  limitW(): number {
    const img = this.image;
    const connected = img.getRaw('controls', 'Conn') !== 0;
    if (!connected) return 0;
    if (img.getRaw('controls', 'WMaxLim_Ena') !== 1) return this.rated;
    const pct = img.get('controls', 'WMaxLimPct');
    return (this.rated * Math.max(0, Math.min(100, pct))) / 100;
  }

  tick(nowMs: number, dtS: number): void {
    const img = this.image;
    const h = hourOfDay(nowMs, this.dayLengthS);
    const sun = Math.max(0, Math.sin((Math.PI * (h - 6)) / 12));
    const available = this.rated * sun * (1 + (this.random() - 0.5) * 0.04);
    const limit = this.limitW();
    const w = Math.max(0, Math.min(available, limit));
    this.energyWh += (w * dtS) / 3600;
    const v = 230 + (this.random() - 0.5) * 2;
    const perPhaseA = w / 3 / v;
    img.set('inverter', 'W', w);
    img.set('inverter', 'VA', w);
    img.set('inverter', 'VAr', 0);
    img.set('inverter', 'PF', w > 0 ? 100 : 0);
    img.set('inverter', 'A', perPhaseA * 3);
    img.set('inverter', 'AphA', perPhaseA);
    img.set('inverter', 'AphB', perPhaseA);
    img.set('inverter', 'AphC', perPhaseA);
    img.set('inverter', 'PhVphA', v);
    img.set('inverter', 'PhVphB', v + 0.3);
    img.set('inverter', 'PhVphC', v - 0.3);
    img.set('inverter', 'PPVphAB', v * Math.sqrt(3));
    img.set('inverter', 'PPVphBC', v * Math.sqrt(3));
    img.set('inverter', 'PPVphCA', v * Math.sqrt(3));
    img.set('inverter', 'Hz', 50 + (this.random() - 0.5) * 0.04);
    img.set('inverter', 'WH', this.energyWh);
    const dcW = w > 0 ? w / 0.97 : 0;
    const dcV = sun > 0 ? 600 + (this.random() - 0.5) * 10 : 0;
    img.set('inverter', 'DCW', dcW);
    img.set('inverter', 'DCV', dcV);
    img.set('inverter', 'DCA', dcV > 0 ? dcW / dcV : 0);
    img.set('inverter', 'TmpCab', 25 + (20 * w) / this.rated);
    img.setRaw('inverter', 'St', sun === 0 ? 2 : available > limit ? 5 : 4);
  }
}

export class Battery implements SimulatedDevice {
  readonly kind = 'battery' as const;
  readonly id: string;
  readonly bank = new RegisterBank();
  readonly image: SunSpecImage;
  private readonly maxW: number;
  private readonly capacityWh: number;
  private soc: number;
  private cycles = 0;
  private heartbeat = 0;
  private readonly random: () => number;

  constructor(o: SimulatedDeviceOptions) {
    this.id = o.id;
    this.maxW = o.ratedW ?? 5000;
    this.capacityWh = o.capacityWh ?? 10_000;
    this.soc = o.initialSoc ?? 50;
    this.random = rng(o.seed ?? seedOf(o.id));
    const img = (this.image = new SunSpecImage(this.bank, [1, 124, 802], o.sunspecBase ?? 40000));
    common(img, 'Battery sim', o.id);
    const s124: [string, number][] = [
      ['WChaMax_SF', 0],
      ['WChaDisChaGra_SF', 0],
      ['VAChaMax_SF', 0],
      ['MinRsvPct_SF', -1],
      ['ChaState_SF', -1],
      ['StorAval_SF', -1],
      ['InBatV_SF', -1],
      ['InOutWRte_SF', -2],
    ];
    for (const [n, v] of s124) img.setRaw('storage', n, v);
    const s802: [string, number][] = [
      ['AHRtg_SF', 0],
      ['WHRtg_SF', 0],
      ['WChaDisChaMax_SF', 0],
      ['DisChaRte_SF', -1],
      ['SoC_SF', -1],
      ['DoD_SF', -1],
      ['SoH_SF', 0],
      ['V_SF', -1],
      ['CellV_SF', -3],
      ['A_SF', -1],
      ['AMax_SF', 0],
      ['W_SF', 0],
    ];
    for (const [n, v] of s802) img.setRaw('battery', n, v);
    img.set('storage', 'WChaMax', this.maxW);
    img.set('storage', 'WChaGra', 100);
    img.set('storage', 'WDisChaGra', 100);
    img.setRaw('storage', 'StorCtl_Mod', 0);
    img.set('storage', 'VAChaMax', this.maxW);
    img.set('storage', 'MinRsvPct', 10);
    img.set('storage', 'InWRte', 100);
    img.set('storage', 'OutWRte', 100);
    img.setRaw('storage', 'ChaGriSet', 1);
    for (const n of ['InOutWRte_WinTms', 'InOutWRte_RvrtTms', 'InOutWRte_RmpTms']) img.setRaw('storage', n, 0);
    img.set('battery', 'AHRtg', Math.round(this.capacityWh / 50));
    img.set('battery', 'WHRtg', this.capacityWh);
    img.set('battery', 'WChaRteMax', this.maxW);
    img.set('battery', 'WDisChaRteMax', this.maxW);
    img.set('battery', 'DisChaRte', 0.1);
    img.set('battery', 'SoCMax', 100);
    img.set('battery', 'SoCMin', 0);
    img.set('battery', 'SoCRsvMax', 100);
    img.set('battery', 'SoCRsvMin', 10);
    img.set('battery', 'SoH', 98);
    img.setRaw('battery', 'LocRemCtl', 0);
    img.setRaw('battery', 'CtrlHb', 0);
    img.setRaw('battery', 'AlmRst', 0);
    img.setRaw('battery', 'Typ', 4);
    img.setRaw('battery', 'State', 3);
    img.setRaw('battery', 'Evt1', 0);
    img.setRaw('battery', 'Evt2', 0);
    img.setRaw('battery', 'EvtVnd1', 0);
    img.setRaw('battery', 'EvtVnd2', 0);
    img.setRaw('battery', 'SetOp', 1);
    img.setRaw('battery', 'SetInvState', 3);
    this.tick(Date.now(), 0);
  }

  /** The reserve in %: the higher of 124 MinRsvPct and 802 SoCRsvMin. */
  reservePct(): number {
    return Math.max(this.image.get('storage', 'MinRsvPct'), this.image.get('battery', 'SoCRsvMin'));
  }

  /** Battery power in W now (> 0 discharging), from the control registers and the SoC limits. */
  powerW(): number {
    const img = this.image;
    if (img.getRaw('battery', 'SetOp') === 2) return 0;
    const mode = img.getRaw('storage', 'StorCtl_Mod') as number;
    const wMax = img.get('storage', 'WChaMax');
    let w = 0;
    if (mode & 1) w -= (wMax * Math.max(0, Math.min(100, img.get('storage', 'InWRte')))) / 100;
    if (mode & 2) w += (wMax * Math.max(0, Math.min(100, img.get('storage', 'OutWRte')))) / 100;
    const maxSoc = Math.min(100, img.get('battery', 'SoCRsvMax'));
    if (w < 0 && this.soc >= maxSoc) w = 0;
    if (w > 0 && this.soc <= this.reservePct()) w = 0;
    return w;
  }

  get socPct(): number {
    return this.soc;
  }

  tick(_nowMs: number, dtS: number): void {
    const img = this.image;
    const w = this.powerW();
    const before = this.soc;
    this.soc = Math.max(0, Math.min(100, this.soc - (w * dtS) / 3600 / this.capacityWh * 100));
    if (w > 0) this.soc = Math.max(this.soc, Math.min(before, this.reservePct()));
    if (before < 99.5 && this.soc >= 99.5) this.cycles++;
    this.heartbeat = (this.heartbeat + Math.max(1, Math.round(dtS))) & 0xffff;
    const v = 48 + this.soc * 0.08 + (this.random() - 0.5) * 0.1;
    const reserve = this.reservePct();
    const chaSt = w < 0 ? 4 : w > 0 ? 3 : this.soc >= 99.9 ? 5 : this.soc <= reserve ? 2 : 6;
    img.set('storage', 'ChaState', this.soc);
    img.set('storage', 'StorAval', (Math.max(0, this.soc - reserve) / 100) * (this.capacityWh / 50));
    img.set('storage', 'InBatV', v);
    img.setRaw('storage', 'ChaSt', chaSt);
    img.set('battery', 'SoC', this.soc);
    img.set('battery', 'DoD', 100 - this.soc);
    img.setRaw('battery', 'NCyc', this.cycles);
    img.setRaw('battery', 'ChaSt', chaSt);
    img.setRaw('battery', 'Hb', this.heartbeat);
    img.set('battery', 'V', v);
    img.set('battery', 'VMax', v + 0.2);
    img.set('battery', 'VMin', v - 0.2);
    img.set('battery', 'CellVMax', v / 15 + 0.01);
    img.set('battery', 'CellVMin', v / 15 - 0.01);
    img.set('battery', 'CellVAvg', v / 15);
    img.set('battery', 'A', w / v);
    img.set('battery', 'AChaMax', this.maxW / 48);
    img.set('battery', 'ADisChaMax', this.maxW / 48);
    img.set('battery', 'W', w);
  }
}

export class RevenueMeter implements SimulatedDevice {
  readonly kind = 'meter' as const;
  readonly id: string;
  readonly bank = new RegisterBank();
  readonly image: SunSpecImage;
  private readonly dayLengthS: number;
  private readonly random: () => number;
  /** Rated power of a PV system behind the meter (a prosumer exports when it out-produces the load). */
  private readonly pvRatedW: number;
  private imported = 0;
  private exported = 0;
  private vah = 0;
  private varh = 0;

  constructor(o: SimulatedDeviceOptions) {
    this.id = o.id;
    this.dayLengthS = o.dayLengthS ?? 86_400;
    this.random = rng(o.seed ?? seedOf(o.id));
    this.pvRatedW = o.ratedW ?? 0;
    const img = (this.image = new SunSpecImage(this.bank, [1, 203], o.sunspecBase ?? 40000));
    common(img, 'Revenue meter sim', o.id);
    const sfs: [string, number][] = [
      ['A_SF', -2],
      ['V_SF', -1],
      ['Hz_SF', -2],
      ['W_SF', 0],
      ['VA_SF', 0],
      ['VAR_SF', 0],
      ['PF_SF', -1],
      ['TotWh_SF', 0],
      ['TotVAh_SF', 0],
      ['TotVArh_SF', 0],
    ];
    for (const [n, v] of sfs) img.setRaw('ac_meter', n, v);
    img.setRaw('ac_meter', 'Evt', 0);
    this.tick(Date.now(), 0);
  }

  tick(nowMs: number, dtS: number): void {
    const img = this.image;
    const h = hourOfDay(nowMs, this.dayLengthS);
    // Morning and evening peaks over a base load, with noise.
    const profile = 1500 + 1200 * Math.exp(-((h - 8) ** 2) / 4) + 2000 * Math.exp(-((h - 19) ** 2) / 6);
    const load = profile * (1 + (this.random() - 0.5) * 0.1);
    const pv = this.pvRatedW * Math.max(0, Math.sin((Math.PI * (h - 6)) / 12)) * (0.9 + this.random() * 0.1);
    const w = load - pv; // positive: import
    const pf = 0.95;
    const va = w / pf;
    const q = Math.sqrt(va * va - w * w);
    if (w >= 0) this.imported += (w * dtS) / 3600;
    else this.exported += (-w * dtS) / 3600;
    this.vah += (Math.abs(va) * dtS) / 3600;
    this.varh += (q * dtS) / 3600;
    const v = 230 + (this.random() - 0.5) * 2;
    const phases = ['A', 'B', 'C'];
    const shares = [0.36, 0.33, 0.31];
    img.set('ac_meter', 'W', w);
    img.set('ac_meter', 'VA', va);
    img.set('ac_meter', 'VAR', q);
    img.set('ac_meter', 'PF', pf * 100);
    img.set('ac_meter', 'A', va / v);
    for (let i = 0; i < 3; i++) {
      const ph = phases[i]!;
      const share = shares[i]!;
      img.set('ac_meter', `Wph${ph}`, w * share);
      img.set('ac_meter', `VAph${ph}`, va * share);
      img.set('ac_meter', `VARph${ph}`, q * share);
      img.set('ac_meter', `PFph${ph}`, pf * 100);
      img.set('ac_meter', `Aph${ph}`, (va * share) / v);
      img.set('ac_meter', `PhVph${ph}`, v + (i - 1) * 0.4);
      img.set('ac_meter', `TotWhImpPh${ph}`, this.imported * share);
      img.set('ac_meter', `TotWhExpPh${ph}`, this.exported * share);
    }
    img.set('ac_meter', 'PhV', v);
    img.set('ac_meter', 'PPV', v * Math.sqrt(3));
    img.set('ac_meter', 'PhVphAB', v * Math.sqrt(3));
    img.set('ac_meter', 'PhVphBC', v * Math.sqrt(3));
    img.set('ac_meter', 'PhVphCA', v * Math.sqrt(3));
    img.set('ac_meter', 'Hz', 50 + (this.random() - 0.5) * 0.04);
    img.set('ac_meter', 'TotWhImp', this.imported);
    img.set('ac_meter', 'TotWhExp', this.exported);
    img.set('ac_meter', 'TotVAhImp', this.vah);
    img.set('ac_meter', 'TotVArhImpQ1', this.varh);
  }

  get importedWh(): number {
    return this.imported;
  }

  get exportedWh(): number {
    return this.exported;
  }
}

/** R holding registers at 0..R-1 (writable) that all change every tick. */
export class GenericDevice implements SimulatedDevice {
  readonly kind = 'generic' as const;
  readonly id: string;
  readonly bank = new RegisterBank();
  private readonly registers: number;
  private counter: number;

  constructor(o: SimulatedDeviceOptions) {
    this.id = o.id;
    this.registers = o.registers ?? 100;
    this.counter = (o.seed ?? seedOf(o.id)) & 0xffff;
    this.bank.define('holding', 0, this.registers, true);
    this.bank.define('input', 0, this.registers);
    this.tick(0, 0);
  }

  tick(_nowMs?: number, _dtS?: number): void {
    this.counter = (this.counter + 1) & 0xffff;
    for (let i = 0; i < this.registers; ) {
      const h = this.bank.page('holding', i);
      const inp = this.bank.page('input', i);
      const n = Math.min(this.registers - i, h.array.length - h.index);
      for (let k = 0; k < n; k++, i++) {
        const v = (this.counter + i * 7) & 0xffff;
        h.array[h.index + k] = v;
        inp.array[inp.index + k] = v;
      }
    }
  }
}

export function createSimulatedDevice(kind: SimulatedKind, options: SimulatedDeviceOptions): SimulatedDevice {
  switch (kind) {
    case 'pv':
      return new PvInverter(options);
    case 'battery':
      return new Battery(options);
    case 'meter':
      return new RevenueMeter(options);
    case 'generic':
      return new GenericDevice(options);
  }
}
