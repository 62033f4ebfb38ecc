/**
 * eu-gdpr: pseudonymisation of customer and meter identifiers, data minimisation, storage
 * limitation, subject access and erasure of off-chain personal data. Pure rules; see README.md
 * for the articles each rule implements.
 */
import type {
  ComplianceModule,
  ComplianceTrade,
  PersonalDataRecord,
  PersonalDataStore,
  RetentionRule,
  SubjectAccessReport,
  TelemetryTransform,
  TradeTransform,
} from '../../core/compliance/compliance-module.ts';
import type { TelemetryRecord } from '../../core/model/telemetry.ts';
import { Matcher } from '../engine/matcher.ts';
import { Pseudonymiser } from '../engine/pseudonymiser.ts';
import type { PseudonymKey } from '../engine/pseudonymiser.ts';

export interface GdprConfig {
  /** HMAC keys; secrets come from the environment (`{ $env: NAME }`). Keep retired keys for subject access. */
  keys: PseudonymKey[];
  /** Id of the key new pseudonyms use (rotate by adding a key and switching this). */
  activeKey: string;
  /** `egress` (default): pseudonymise where records leave the site; `ingest`: before the bus. */
  applyAt?: 'egress' | 'ingest';
  /** Globs of device ids that identify a customer or a customer's meter (e.g. `meter-*`). */
  personalDevices?: string[];
  /** Tags whose values identify a person or a meter (pseudonymised). */
  identifierTags?: string[];
  /** Tags dropped altogether (data minimisation). */
  dropTags?: string[];
  /** Record fields dropped (data minimisation). */
  dropFields?: ('unit' | 'quality.raw')[];
  /** Storage limitation. */
  retention?: { personalMaxDays?: number; telemetryMaxDays?: number };
  /** Purposes of processing, listed in subject-access reports (Art. 15(1)(a)). */
  processingPurposes?: string[];
}

export const GDPR_DEFAULTS = {
  applyAt: 'egress',
  identifierTags: ['customerId', 'meterId', 'meterSerial', 'nmi', 'mpan', 'accountId', 'premiseId'],
  dropTags: ['customerName', 'address', 'email', 'phone'],
  personalMaxDays: 730,
  processingPurposes: ['metering and settlement of energy supplied and exported', 'grid operation and safety'],
} as const;

/** Tag that says which key made the pseudonyms of a record. */
export const PSEUDONYM_KEY_TAG = 'pseudonymKeyId';

export class GdprTransform implements TelemetryTransform {
  readonly id = 'gdpr-pseudonymise-minimise';
  readonly phase: 'ingest' | 'egress';
  private readonly devices: Matcher;
  private readonly identifierTags: Set<string>;
  private readonly dropTags: Set<string>;
  private readonly dropUnit: boolean;
  private readonly dropRaw: boolean;
  /** Output tags per input tags object: drivers attach one tags object per device, and records are immutable after ingest. */
  private readonly tagCache = new WeakMap<Record<string, string>, Record<string, string>>();
  private readonly noTags: Record<string, string>;

  constructor(
    private readonly pseudonymiser: Pseudonymiser,
    config: GdprConfig,
  ) {
    this.phase = config.applyAt ?? GDPR_DEFAULTS.applyAt;
    this.devices = new Matcher(config.personalDevices ?? []);
    this.identifierTags = new Set(config.identifierTags ?? GDPR_DEFAULTS.identifierTags);
    this.dropTags = new Set(config.dropTags ?? GDPR_DEFAULTS.dropTags);
    this.dropUnit = config.dropFields?.includes('unit') ?? false;
    this.dropRaw = config.dropFields?.includes('quality.raw') ?? false;
    this.noTags = Object.freeze({ [PSEUDONYM_KEY_TAG]: pseudonymiser.activeKeyId }) as Record<string, string>;
  }

  apply(r: TelemetryRecord): TelemetryRecord {
    const personalDevice = this.devices.matches(r.deviceId) && !Pseudonymiser.isPseudonym(r.deviceId);
    let tagsChange = false;
    if (r.tags) {
      for (const k in r.tags) {
        if (this.dropTags.has(k) || (this.identifierTags.has(k) && !Pseudonymiser.isPseudonym(r.tags[k] as string))) {
          tagsChange = true;
          break;
        }
      }
    }
    const unit = this.dropUnit && r.unit !== undefined;
    const raw = this.dropRaw && r.quality.raw !== undefined;
    if (!personalDevice && !tagsChange && !unit && !raw) return r;
    // built field by field in the pipeline's order (no spread, no delete) so records keep one shape
    const out: TelemetryRecord = {
      deviceId: personalDevice ? this.pseudonymiser.pseudonym(r.deviceId) : r.deviceId,
      pointId: r.pointId,
      ts: r.ts,
      receivedAt: r.receivedAt,
      value: r.value,
      quality: raw ? { status: r.quality.status, flags: r.quality.flags } : r.quality,
      protocol: r.protocol,
      seq: r.seq,
    };
    if (r.unit !== undefined && !unit) out.unit = r.unit;
    if (tagsChange || personalDevice) out.tags = this.tags(r.tags);
    else if (r.tags !== undefined) out.tags = r.tags;
    return out;
  }

  /** Tags with identifiers pseudonymised, dropped tags gone, and the key id added. */
  tags(tags: Record<string, string> | undefined): Record<string, string> {
    if (!tags) return this.noTags;
    let out = this.tagCache.get(tags);
    if (out) return out;
    out = {};
    for (const k in tags) {
      if (this.dropTags.has(k)) continue;
      const v = tags[k] as string;
      out[k] = this.identifierTags.has(k) && !Pseudonymiser.isPseudonym(v) ? this.pseudonymiser.pseudonym(v) : v;
    }
    out[PSEUDONYM_KEY_TAG] = this.pseudonymiser.activeKeyId;
    Object.freeze(out);
    this.tagCache.set(tags, out);
    return out;
  }

  isPersonalDevice(id: string): boolean {
    return this.devices.matches(id);
  }
}

class GdprTradeTransform implements TradeTransform {
  readonly id = 'gdpr-trade-pseudonymise';
  constructor(
    private readonly t: GdprTransform,
    private readonly pseudonymiser: Pseudonymiser,
  ) {}

  apply(trade: ComplianceTrade): ComplianceTrade {
    const seller = this.t.isPersonalDevice(trade.seller) && !Pseudonymiser.isPseudonym(trade.seller);
    const buyer = this.t.isPersonalDevice(trade.buyer) && !Pseudonymiser.isPseudonym(trade.buyer);
    if (!seller && !buyer && !trade.tags) return trade;
    return {
      ...trade,
      ...(seller ? { seller: this.pseudonymiser.pseudonym(trade.seller) } : {}),
      ...(buyer ? { buyer: this.pseudonymiser.pseudonym(trade.buyer) } : {}),
      ...(trade.tags || seller || buyer ? { tags: this.t.tags(trade.tags) } : {}),
    };
  }
}

/** Builds the eu-gdpr module from its (validated) config. */
export function createGdprModule(config: GdprConfig): ComplianceModule & { pseudonymiser: Pseudonymiser } {
  const pseudonymiser = new Pseudonymiser(config.keys, config.activeKey);
  const transform = new GdprTransform(pseudonymiser, config);
  const identifierTags = config.identifierTags ?? [...GDPR_DEFAULTS.identifierTags];
  const retention: RetentionRule[] = [{ dataClass: 'personal', maxDays: config.retention?.personalMaxDays ?? GDPR_DEFAULTS.personalMaxDays, source: 'GDPR Art. 5(1)(e) storage limitation' }];
  if (config.retention?.telemetryMaxDays !== undefined) {
    retention.push({ dataClass: 'telemetry', maxDays: config.retention.telemetryMaxDays, source: 'GDPR Art. 5(1)(e) storage limitation (site policy for telemetry of personal devices)' });
  }
  const purposes = config.processingPurposes ?? [...GDPR_DEFAULTS.processingPurposes];
  return {
    id: 'eu-gdpr',
    jurisdiction: 'EU',
    title: 'EU General Data Protection Regulation: pseudonymisation, minimisation, storage limitation, data-subject rights',
    regulation: 'Regulation (EU) 2016/679 (GDPR), Art. 4(5), 5(1)(c), 5(1)(e), 15, 17, 25, 32',
    order: 10,
    pseudonymiser,
    telemetryTransforms: [transform],
    tradeTransforms: [new GdprTradeTransform(transform, pseudonymiser)],
    retention,
    personalData: {
      async subjectAccess(store: PersonalDataStore, subjectId: string, now: number): Promise<SubjectAccessReport> {
        const records = await store.find(subjectId);
        const ids = new Set<string>([subjectId]);
        for (const r of records) collectIdentifiers(r, identifierTags, ids);
        const pseudonyms: Record<string, Record<string, string>> = {};
        for (const keyId of pseudonymiser.keyIds()) {
          const m: Record<string, string> = {};
          for (const id of [...ids].sort()) m[id] = pseudonymiser.pseudonym(id, keyId);
          pseudonyms[keyId] = m;
        }
        return { subjectId, generatedAt: new Date(now).toISOString(), records, pseudonyms, processing: purposes };
      },
      erase(store: PersonalDataStore, subjectId: string): Promise<number> {
        return store.erase(subjectId);
      },
    },
  };
}

function collectIdentifiers(r: PersonalDataRecord, tags: readonly string[], into: Set<string>): void {
  for (const k of [...tags, 'deviceId']) {
    const v = r.data[k];
    if (typeof v === 'string' && v !== '') into.add(v);
  }
}

/** A PersonalDataStore in memory (tests, and small sites that keep customer links in config). */
export class InMemoryPersonalDataStore implements PersonalDataStore {
  private readonly records: PersonalDataRecord[] = [];

  add(record: PersonalDataRecord): void {
    this.records.push(record);
  }

  async find(subjectId: string): Promise<PersonalDataRecord[]> {
    return this.records.filter((r) => r.subjectId === subjectId).map((r) => structuredClone(r));
  }

  async erase(subjectId: string): Promise<number> {
    return this.removeWhere((r) => r.subjectId === subjectId);
  }

  async purgeBefore(before: number): Promise<number> {
    return this.removeWhere((r) => r.storedAt < before);
  }

  size(): number {
    return this.records.length;
  }

  private removeWhere(pred: (r: PersonalDataRecord) => boolean): number {
    let n = 0;
    for (let i = this.records.length - 1; i >= 0; i--) {
      if (pred(this.records[i] as PersonalDataRecord)) {
        this.records.splice(i, 1);
        n++;
      }
    }
    return n;
  }
}
