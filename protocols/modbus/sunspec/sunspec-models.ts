/**
 * SunSpec information models used by discovery and the simulators, written from the public SunSpec
 * Information Model specification (point names, types, sizes, scale-factor references, units and
 * access as the specification defines them; offsets follow from the order). Only the points are kept.
 *
 * A model block on the wire: ID (uint16), L (uint16, registers that follow), then the points in order.
 * The device map starts with the marker 'SunS' (0x5375 0x6e53) and ends with ID 0xFFFF.
 */

import type { RegisterType } from '../codec/register-codec.ts';

export type SunSpecType =
  | 'uint16'
  | 'int16'
  | 'uint32'
  | 'int32'
  | 'uint64'
  | 'acc32'
  | 'acc64'
  | 'enum16'
  | 'bitfield16'
  | 'bitfield32'
  | 'sunssf'
  | 'string'
  | 'float32'
  | 'pad';

export interface SunSpecPointDef {
  name: string;
  type: SunSpecType;
  /** Registers. */
  size: number;
  /** Offset from the first register after L. */
  offset: number;
  /** Name of the scale-factor point of the same model. */
  sf?: string;
  units?: string;
  writable: boolean;
}

export interface SunSpecModelDef {
  id: number;
  /** The specification's group name, used as the prefix of point ids. */
  name: string;
  label: string;
  /** L: registers after the header. */
  length: number;
  points: SunSpecPointDef[];
}

// [name, type, sf?, units?, flags?] — flags: 'rw', or a number = size for strings
type Row = [string, SunSpecType, string?, string?, ('rw' | number)?];

const SIZES: Record<SunSpecType, number> = {
  uint16: 1,
  int16: 1,
  enum16: 1,
  bitfield16: 1,
  sunssf: 1,
  pad: 1,
  uint32: 2,
  int32: 2,
  acc32: 2,
  bitfield32: 2,
  float32: 2,
  uint64: 4,
  acc64: 4,
  string: 0,
};

function model(id: number, name: string, label: string, rows: Row[]): SunSpecModelDef {
  let offset = 0;
  const points: SunSpecPointDef[] = [];
  for (const [pname, type, sf, units, flag] of rows) {
    const size = type === 'string' ? (flag as number) : SIZES[type];
    const point: SunSpecPointDef = { name: pname, type, size, offset, writable: flag === 'rw' };
    if (sf) point.sf = sf;
    if (units) point.units = units;
    points.push(point);
    offset += size;
  }
  return { id, name, label, length: offset, points };
}

const COMMON: Row[] = [
  ['Mn', 'string', undefined, undefined, 16],
  ['Md', 'string', undefined, undefined, 16],
  ['Opt', 'string', undefined, undefined, 8],
  ['Vr', 'string', undefined, undefined, 8],
  ['SN', 'string', undefined, undefined, 16],
  ['DA', 'uint16', undefined, undefined, 'rw'],
  ['Pad', 'pad'],
];

// Inverter models 101 (single phase), 102 (split phase), 103 (three phase) share one layout.
const INVERTER: Row[] = [
  ['A', 'uint16', 'A_SF', 'A'],
  ['AphA', 'uint16', 'A_SF', 'A'],
  ['AphB', 'uint16', 'A_SF', 'A'],
  ['AphC', 'uint16', 'A_SF', 'A'],
  ['A_SF', 'sunssf'],
  ['PPVphAB', 'uint16', 'V_SF', 'V'],
  ['PPVphBC', 'uint16', 'V_SF', 'V'],
  ['PPVphCA', 'uint16', 'V_SF', 'V'],
  ['PhVphA', 'uint16', 'V_SF', 'V'],
  ['PhVphB', 'uint16', 'V_SF', 'V'],
  ['PhVphC', 'uint16', 'V_SF', 'V'],
  ['V_SF', 'sunssf'],
  ['W', 'int16', 'W_SF', 'W'],
  ['W_SF', 'sunssf'],
  ['Hz', 'uint16', 'Hz_SF', 'Hz'],
  ['Hz_SF', 'sunssf'],
  ['VA', 'int16', 'VA_SF', 'VA'],
  ['VA_SF', 'sunssf'],
  ['VAr', 'int16', 'VAr_SF', 'var'],
  ['VAr_SF', 'sunssf'],
  ['PF', 'int16', 'PF_SF', 'Pct'],
  ['PF_SF', 'sunssf'],
  ['WH', 'acc32', 'WH_SF', 'Wh'],
  ['WH_SF', 'sunssf'],
  ['DCA', 'uint16', 'DCA_SF', 'A'],
  ['DCA_SF', 'sunssf'],
  ['DCV', 'uint16', 'DCV_SF', 'V'],
  ['DCV_SF', 'sunssf'],
  ['DCW', 'int16', 'DCW_SF', 'W'],
  ['DCW_SF', 'sunssf'],
  ['TmpCab', 'int16', 'Tmp_SF', 'C'],
  ['TmpSnk', 'int16', 'Tmp_SF', 'C'],
  ['TmpTrns', 'int16', 'Tmp_SF', 'C'],
  ['TmpOt', 'int16', 'Tmp_SF', 'C'],
  ['Tmp_SF', 'sunssf'],
  ['St', 'enum16'],
  ['StVnd', 'enum16'],
  ['Evt1', 'bitfield32'],
  ['Evt2', 'bitfield32'],
  ['EvtVnd1', 'bitfield32'],
  ['EvtVnd2', 'bitfield32'],
  ['EvtVnd3', 'bitfield32'],
  ['EvtVnd4', 'bitfield32'],
];

const CONTROLS: Row[] = [
  ['Conn_WinTms', 'uint16', undefined, 'Secs', 'rw'],
  ['Conn_RvrtTms', 'uint16', undefined, 'Secs', 'rw'],
  ['Conn', 'enum16', undefined, undefined, 'rw'],
  ['WMaxLimPct', 'uint16', 'WMaxLimPct_SF', '% WMax', 'rw'],
  ['WMaxLimPct_WinTms', 'uint16', undefined, 'Secs', 'rw'],
  ['WMaxLimPct_RvrtTms', 'uint16', undefined, 'Secs', 'rw'],
  ['WMaxLimPct_RmpTms', 'uint16', undefined, 'Secs', 'rw'],
  ['WMaxLim_Ena', 'enum16', undefined, undefined, 'rw'],
  ['OutPFSet', 'int16', 'OutPFSet_SF', 'cos()', 'rw'],
  ['OutPFSet_WinTms', 'uint16', undefined, 'Secs', 'rw'],
  ['OutPFSet_RvrtTms', 'uint16', undefined, 'Secs', 'rw'],
  ['OutPFSet_RmpTms', 'uint16', undefined, 'Secs', 'rw'],
  ['OutPFSet_Ena', 'enum16', undefined, undefined, 'rw'],
  ['VArWMaxPct', 'int16', 'VArPct_SF', '% WMax', 'rw'],
  ['VArMaxPct', 'int16', 'VArPct_SF', '% VArMax', 'rw'],
  ['VArAvalPct', 'int16', 'VArPct_SF', '% VArAval', 'rw'],
  ['VArPct_WinTms', 'uint16', undefined, 'Secs', 'rw'],
  ['VArPct_RvrtTms', 'uint16', undefined, 'Secs', 'rw'],
  ['VArPct_RmpTms', 'uint16', undefined, 'Secs', 'rw'],
  ['VArPct_Mod', 'enum16', undefined, undefined, 'rw'],
  ['VArPct_Ena', 'enum16', undefined, undefined, 'rw'],
  ['WMaxLimPct_SF', 'sunssf'],
  ['OutPFSet_SF', 'sunssf'],
  ['VArPct_SF', 'sunssf'],
];

const STORAGE: Row[] = [
  ['WChaMax', 'uint16', 'WChaMax_SF', 'W', 'rw'],
  ['WChaGra', 'uint16', 'WChaDisChaGra_SF', '% WChaMax/sec', 'rw'],
  ['WDisChaGra', 'uint16', 'WChaDisChaGra_SF', '% WChaMax/sec', 'rw'],
  ['StorCtl_Mod', 'bitfield16', undefined, undefined, 'rw'],
  ['VAChaMax', 'uint16', 'VAChaMax_SF', 'VA', 'rw'],
  ['MinRsvPct', 'uint16', 'MinRsvPct_SF', '% WChaMax', 'rw'],
  ['ChaState', 'uint16', 'ChaState_SF', '% AhrRtg'],
  ['StorAval', 'uint16', 'StorAval_SF', 'AH'],
  ['InBatV', 'uint16', 'InBatV_SF', 'V'],
  ['ChaSt', 'enum16'],
  ['OutWRte', 'int16', 'InOutWRte_SF', '% WDisChaMax', 'rw'],
  ['InWRte', 'int16', 'InOutWRte_SF', '% WChaMax', 'rw'],
  ['InOutWRte_WinTms', 'uint16', undefined, 'Secs', 'rw'],
  ['InOutWRte_RvrtTms', 'uint16', undefined, 'Secs', 'rw'],
  ['InOutWRte_RmpTms', 'uint16', undefined, 'Secs', 'rw'],
  ['ChaGriSet', 'enum16', undefined, undefined, 'rw'],
  ['WChaMax_SF', 'sunssf'],
  ['WChaDisChaGra_SF', 'sunssf'],
  ['VAChaMax_SF', 'sunssf'],
  ['MinRsvPct_SF', 'sunssf'],
  ['ChaState_SF', 'sunssf'],
  ['StorAval_SF', 'sunssf'],
  ['InBatV_SF', 'sunssf'],
  ['InOutWRte_SF', 'sunssf'],
];

// Meter models 201 (single phase), 202 (split phase), 203 (wye), 204 (delta) share one layout.
const phases = (name: string, type: SunSpecType, sf: string, units: string): Row[] =>
  ['', 'phA', 'phB', 'phC'].map((ph): Row => [name + ph, type, sf, units]);
const energyPhases = (name: string, sf: string, units: string): Row[] =>
  ['', 'PhA', 'PhB', 'PhC'].map((ph): Row => [name + ph, 'acc32', sf, units]);

const METER: Row[] = [
  ...phases('A', 'int16', 'A_SF', 'A'),
  ['A_SF', 'sunssf'],
  ['PhV', 'int16', 'V_SF', 'V'],
  ['PhVphA', 'int16', 'V_SF', 'V'],
  ['PhVphB', 'int16', 'V_SF', 'V'],
  ['PhVphC', 'int16', 'V_SF', 'V'],
  ['PPV', 'int16', 'V_SF', 'V'],
  ['PhVphAB', 'int16', 'V_SF', 'V'],
  ['PhVphBC', 'int16', 'V_SF', 'V'],
  ['PhVphCA', 'int16', 'V_SF', 'V'],
  ['V_SF', 'sunssf'],
  ['Hz', 'int16', 'Hz_SF', 'Hz'],
  ['Hz_SF', 'sunssf'],
  ...phases('W', 'int16', 'W_SF', 'W'),
  ['W_SF', 'sunssf'],
  ...phases('VA', 'int16', 'VA_SF', 'VA'),
  ['VA_SF', 'sunssf'],
  ...phases('VAR', 'int16', 'VAR_SF', 'var'),
  ['VAR_SF', 'sunssf'],
  ...phases('PF', 'int16', 'PF_SF', 'Pct'),
  ['PF_SF', 'sunssf'],
  ...energyPhases('TotWhExp', 'TotWh_SF', 'Wh'),
  ...energyPhases('TotWhImp', 'TotWh_SF', 'Wh'),
  ['TotWh_SF', 'sunssf'],
  ...energyPhases('TotVAhExp', 'TotVAh_SF', 'VAh'),
  ...energyPhases('TotVAhImp', 'TotVAh_SF', 'VAh'),
  ['TotVAh_SF', 'sunssf'],
  ...energyPhases('TotVArhImpQ1', 'TotVArh_SF', 'varh'),
  ...energyPhases('TotVArhImpQ2', 'TotVArh_SF', 'varh'),
  ...energyPhases('TotVArhExpQ3', 'TotVArh_SF', 'varh'),
  ...energyPhases('TotVArhExpQ4', 'TotVArh_SF', 'varh'),
  ['TotVArh_SF', 'sunssf'],
  ['Evt', 'bitfield32'],
];

const derPhase = (l: string, ll: string): Row[] => [
  [`WL${l}`, 'int16', 'W_SF', 'W'],
  [`VAL${l}`, 'int16', 'VA_SF', 'VA'],
  [`VarL${l}`, 'int16', 'Var_SF', 'Var'],
  [`PFL${l}`, 'uint16', 'PF_SF'],
  [`AL${l}`, 'int16', 'A_SF', 'A'],
  [`V${ll}`, 'int16', 'V_SF', 'V'],
  [`VL${l}`, 'int16', 'V_SF', 'V'],
  [`TotWhInjL${l}`, 'uint64', 'TotWh_SF', 'Wh'],
  [`TotWhAbsL${l}`, 'uint64', 'TotWh_SF', 'Wh'],
  [`TotVarhInjL${l}`, 'uint64', 'TotVarh_SF', 'Varh'],
  [`TotVarhAbsL${l}`, 'uint64', 'TotVarh_SF', 'Varh'],
];

const DER_MEASURE_AC: Row[] = [
  ['ACType', 'enum16'],
  ['St', 'enum16'],
  ['InvSt', 'enum16'],
  ['ConnSt', 'enum16'],
  ['Alrm', 'bitfield32'],
  ['DERMode', 'bitfield32'],
  ['W', 'int16', 'W_SF', 'W'],
  ['VA', 'int16', 'VA_SF', 'VA'],
  ['Var', 'int16', 'Var_SF', 'Var'],
  ['PF', 'uint16', 'PF_SF'],
  ['A', 'int16', 'A_SF', 'A'],
  ['LLV', 'int16', 'V_SF', 'V'],
  ['LNV', 'int16', 'V_SF', 'V'],
  ['Hz', 'uint32', 'Hz_SF', 'Hz'],
  ['TotWhInj', 'uint64', 'TotWh_SF', 'Wh'],
  ['TotWhAbs', 'uint64', 'TotWh_SF', 'Wh'],
  ['TotVarhInj', 'uint64', 'TotVarh_SF', 'Varh'],
  ['TotVarhAbs', 'uint64', 'TotVarh_SF', 'Varh'],
  ['TmpAmb', 'int16', 'Tmp_SF', 'C'],
  ['TmpCab', 'int16', 'Tmp_SF', 'C'],
  ['TmpSnk', 'int16', 'Tmp_SF', 'C'],
  ['TmpTrns', 'int16', 'Tmp_SF', 'C'],
  ['TmpSw', 'int16', 'Tmp_SF', 'C'],
  ['TmpOt', 'int16', 'Tmp_SF', 'C'],
  ...derPhase('1', 'L1L2'),
  ...derPhase('2', 'L2L3'),
  ...derPhase('3', 'L3L1'),
  ['ThrotPct', 'uint16', undefined, 'Pct'],
  ['ThrotSrc', 'bitfield32'],
  ['A_SF', 'sunssf'],
  ['V_SF', 'sunssf'],
  ['Hz_SF', 'sunssf'],
  ['W_SF', 'sunssf'],
  ['PF_SF', 'sunssf'],
  ['VA_SF', 'sunssf'],
  ['Var_SF', 'sunssf'],
  ['TotWh_SF', 'sunssf'],
  ['TotVarh_SF', 'sunssf'],
  ['Tmp_SF', 'sunssf'],
  ['MnAlrmInfo', 'string', undefined, undefined, 32],
];

const BATTERY: Row[] = [
  ['AHRtg', 'uint16', 'AHRtg_SF', 'Ah'],
  ['WHRtg', 'uint16', 'WHRtg_SF', 'Wh'],
  ['WChaRteMax', 'uint16', 'WChaDisChaMax_SF', 'W'],
  ['WDisChaRteMax', 'uint16', 'WChaDisChaMax_SF', 'W'],
  ['DisChaRte', 'uint16', 'DisChaRte_SF', '%WHRtg'],
  ['SoCMax', 'uint16', 'SoC_SF', '%WHRtg'],
  ['SoCMin', 'uint16', 'SoC_SF', '%WHRtg'],
  ['SoCRsvMax', 'uint16', 'SoC_SF', '%WHRtg', 'rw'],
  ['SoCRsvMin', 'uint16', 'SoC_SF', '%WHRtg', 'rw'],
  ['SoC', 'uint16', 'SoC_SF', '%WHRtg'],
  ['DoD', 'uint16', 'DoD_SF', '%'],
  ['SoH', 'uint16', 'SoH_SF', '%'],
  ['NCyc', 'uint32'],
  ['ChaSt', 'enum16'],
  ['LocRemCtl', 'enum16'],
  ['Hb', 'uint16'],
  ['CtrlHb', 'uint16', undefined, undefined, 'rw'],
  ['AlmRst', 'uint16', undefined, undefined, 'rw'],
  ['Typ', 'enum16'],
  ['State', 'enum16'],
  ['StateVnd', 'enum16'],
  ['WarrDt', 'uint32'],
  ['Evt1', 'bitfield32'],
  ['Evt2', 'bitfield32'],
  ['EvtVnd1', 'bitfield32'],
  ['EvtVnd2', 'bitfield32'],
  ['V', 'uint16', 'V_SF', 'V'],
  ['VMax', 'uint16', 'V_SF', 'V'],
  ['VMin', 'uint16', 'V_SF', 'V'],
  ['CellVMax', 'uint16', 'CellV_SF', 'V'],
  ['CellVMaxStr', 'uint16'],
  ['CellVMaxMod', 'uint16'],
  ['CellVMin', 'uint16', 'CellV_SF', 'V'],
  ['CellVMinStr', 'uint16'],
  ['CellVMinMod', 'uint16'],
  ['CellVAvg', 'uint16', 'CellV_SF', 'V'],
  ['A', 'int16', 'A_SF', 'A'],
  ['AChaMax', 'uint16', 'AMax_SF', 'A'],
  ['ADisChaMax', 'uint16', 'AMax_SF', 'A'],
  ['W', 'int16', 'W_SF', 'W'],
  ['ReqInvState', 'enum16'],
  ['ReqW', 'int16', 'W_SF', 'W'],
  ['SetOp', 'enum16', undefined, undefined, 'rw'],
  ['SetInvState', 'enum16', undefined, undefined, 'rw'],
  ['AHRtg_SF', 'sunssf'],
  ['WHRtg_SF', 'sunssf'],
  ['WChaDisChaMax_SF', 'sunssf'],
  ['DisChaRte_SF', 'sunssf'],
  ['SoC_SF', 'sunssf'],
  ['DoD_SF', 'sunssf'],
  ['SoH_SF', 'sunssf'],
  ['V_SF', 'sunssf'],
  ['CellV_SF', 'sunssf'],
  ['A_SF', 'sunssf'],
  ['AMax_SF', 'sunssf'],
  ['W_SF', 'sunssf'],
];

/** The models we know, by id. */
export const SUNSPEC_MODELS: ReadonlyMap<number, SunSpecModelDef> = new Map(
  [
    model(1, 'common', 'Common', COMMON),
    model(101, 'inverter', 'Inverter (Single Phase)', INVERTER),
    model(102, 'inverter', 'Inverter (Split Phase)', INVERTER),
    model(103, 'inverter', 'Inverter (Three Phase)', INVERTER),
    model(123, 'controls', 'Immediate Inverter Controls', CONTROLS),
    model(124, 'storage', 'Storage', STORAGE),
    model(201, 'ac_meter', 'Meter (Single Phase)', METER),
    model(202, 'ac_meter', 'Meter (Split Single Phase)', METER),
    model(203, 'ac_meter', 'Meter (Wye-Connect Three Phase)', METER),
    model(204, 'ac_meter', 'Meter (Delta-Connect Three Phase)', METER),
    model(701, 'DERMeasureAC', 'DER AC Measurement', DER_MEASURE_AC),
    model(802, 'battery', 'Battery Base Model', BATTERY),
  ].map((m) => [m.id, m]),
);

/** 'SunS' as two registers. */
export const SUNSPEC_MARKER = [0x5375, 0x6e53] as const;
/** Where the marker is looked for, in this order. */
export const SUNSPEC_BASE_ADDRESSES = [40000, 0, 50000] as const;
export const SUNSPEC_END_ID = 0xffff;

/** The raw value that means "not implemented" for a type (undefined when the type has none). */
export function notImplementedRaw(type: SunSpecType): number | undefined {
  switch (type) {
    case 'int16':
    case 'sunssf':
      return -0x8000;
    case 'uint16':
    case 'enum16':
    case 'bitfield16':
      return 0xffff;
    case 'int32':
      return -0x80000000;
    case 'uint32':
    case 'bitfield32':
      return 0xffffffff;
    default:
      // acc32/acc64: 0 means "not accumulated yet" as well; uint64 does not fit a number exactly.
      return undefined;
  }
}

/** The Modbus register type that carries a SunSpec point type. */
export function sunSpecRegisterType(t: SunSpecType): RegisterType {
  switch (t) {
    case 'int16':
    case 'sunssf':
      return 'i16';
    case 'uint32':
    case 'acc32':
    case 'bitfield32':
      return 'u32';
    case 'int32':
      return 'i32';
    case 'uint64':
    case 'acc64':
      return 'u64';
    case 'float32':
      return 'f32';
    case 'string':
      return 'string';
    default:
      return 'u16';
  }
}
