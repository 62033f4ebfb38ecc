/**
 * The audit log: append-only JSON lines, hash-chained, fsync'd on every append.
 *
 * Each line is the canonical JSON (core/audit/canonical-json.ts) of one record:
 *   { seq, at, type, actor, action, target?, reason?, outcome?, details?, prev, hash }
 * `seq` counts from 1, `prev` is the `hash` of the record before (64 zeros for the first), and
 * `hash` is the SHA-256 (hex) of the canonical JSON of the record without `hash`. A sidecar
 * `audit.head.json` holds the last seq and hash, written after every append, so cutting whole
 * records off the tail is detected too; anchoring the head hash elsewhere (the chain) protects
 * against rewriting the log and its head together.
 *
 * `verify()` walks the file and names the first record that is not what it should be: a line
 * that does not parse, is not in canonical form, carries the wrong seq (a record deleted, inserted
 * or moved), does not chain to the one before, or whose hash does not match its content; then
 * checks the head. Any changed byte lands in one of those checks.
 *
 * Writers: appends take a lock file (`audit.lock`, O_EXCL) and re-read the tail when the file grew
 * under them, so the kernel and a CLI process on the same data dir keep one chain.
 *
 * Error policy: an append that cannot be written or synced throws LOG_WRITE_FAILED (the caller must
 * not go on as if the action were recorded); a lock that stays taken throws LOG_LOCKED.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { EnergyMeshError, errorMessage } from '../errors.ts';
import { canonicalJson } from './canonical-json.ts';

/** The kinds of records written today; others may be added by callers (dotted, lower case). */
export type AuditRecordType =
  | 'compliance.toggle'
  | 'compliance.gate'
  | 'compliance.approval'
  | 'compliance.change'
  | 'compliance.erasure'
  | 'command'
  | 'config.change'
  | 'plugin.change'
  | 'auth.failure'
  | 'audit.anchor'
  | (string & {});

/** What a caller appends. */
export interface AuditEntry {
  type: AuditRecordType;
  /** Who: a principal id (token id, `local`, `system`). */
  actor: string;
  /** What was done, e.g. `enable`, `execute`, `deny`. */
  action: string;
  /** What it was done to, e.g. a module id or `device/point`. */
  target?: string;
  /** Why (mandatory for toggles and changes; the caller checks). */
  reason?: string;
  /** How it ended: `allowed`, `denied`, `succeeded`, ... */
  outcome?: string;
  details?: Record<string, unknown>;
  /** When, epoch ms; the log's clock if left out. */
  at?: number;
}

/** A record as stored. */
export interface AuditRecord {
  seq: number;
  /** ISO 8601 UTC time. */
  at: string;
  type: AuditRecordType;
  actor: string;
  action: string;
  target?: string;
  reason?: string;
  outcome?: string;
  details?: Record<string, unknown>;
  prev: string;
  hash: string;
}

export interface AuditHead {
  seq: number;
  hash: string;
  at: string;
}

export type AuditVerification =
  | { ok: true; records: number; head: AuditHead | undefined }
  | {
      ok: false;
      /** Records that checked out before the first bad one. */
      records: number;
      /** 1-based line (= expected seq) of the first bad record. */
      badRecord: number;
      reason: string;
    };

export interface AuditExport {
  from: string;
  to: string;
  exportedAt: string;
  /** The whole log's verification when exported. */
  verification: AuditVerification;
  /** `hash` of the record just before the first exported one (zeros if it is the first). */
  prevHash: string;
  records: AuditRecord[];
}

export interface AuditAnchorOptions {
  /** Call `onAnchor` after every N-th record (0: only on `anchorNow()`). */
  everyRecords?: number;
  /** Receives the head; may return a receipt (e.g. a transaction hash) that is then logged. */
  onAnchor(head: AuditHead): void | string | Promise<void | string>;
}

export interface AuditLogOptions {
  /** Folder of `audit.log` and `audit.head.json` (created on demand). */
  dir: string;
  clock?: () => number;
  anchor?: AuditAnchorOptions;
  /** How long to wait for another writer's lock before LOG_LOCKED (default 5000 ms). */
  lockTimeoutMs?: number;
}

export const GENESIS_HASH = '0'.repeat(64);
const STALE_LOCK_MS = 30_000;

export class AuditLog {
  readonly file: string;
  readonly headFile: string;
  private readonly lockFile: string;
  private readonly clock: () => number;
  private lastSeq = 0;
  private lastHash = GENESIS_HASH;
  private knownSize = -1;
  private pendingAnchor: Promise<void> = Promise.resolve();

  constructor(private readonly options: AuditLogOptions) {
    mkdirSync(options.dir, { recursive: true });
    this.file = join(options.dir, 'audit.log');
    this.headFile = join(options.dir, 'audit.head.json');
    this.lockFile = join(options.dir, 'audit.lock');
    this.clock = options.clock ?? Date.now;
  }

  /** The last record's seq and hash (what an anchor publishes). */
  head(): AuditHead {
    this.refreshTail();
    return { seq: this.lastSeq, hash: this.lastHash, at: new Date(this.clock()).toISOString() };
  }

  /** Appends one record, fsync'd before returning; returns it as stored. */
  append(entry: AuditEntry): AuditRecord {
    if (typeof entry.actor !== 'string' || entry.actor === '' || typeof entry.action !== 'string' || entry.action === '' || typeof entry.type !== 'string' || entry.type === '') {
      throw new EnergyMeshError('INVALID_ARGUMENT', 'an audit record needs a type, an actor and an action');
    }
    const record = this.withLock(() => {
      this.refreshTail();
      const body: Omit<AuditRecord, 'hash'> = {
        seq: this.lastSeq + 1,
        at: new Date(entry.at ?? this.clock()).toISOString(),
        type: entry.type,
        actor: entry.actor,
        action: entry.action,
        ...(entry.target !== undefined ? { target: entry.target } : {}),
        ...(entry.reason !== undefined ? { reason: entry.reason } : {}),
        ...(entry.outcome !== undefined ? { outcome: entry.outcome } : {}),
        ...(entry.details !== undefined ? { details: entry.details } : {}),
        prev: this.lastHash,
      };
      const hash = sha256(canonicalJson(body));
      const full: AuditRecord = { ...body, hash };
      const line = `${canonicalJson(full)}\n`;
      let fd: number | undefined;
      try {
        fd = openSync(this.file, 'a');
        writeSync(fd, line);
        fsyncSync(fd);
        this.knownSize = fstatSync(fd).size;
      } catch (e) {
        throw new EnergyMeshError('LOG_WRITE_FAILED', `audit log ${this.file}: append failed: ${errorMessage(e)}`, { cause: e, retriable: true });
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
      this.lastSeq = full.seq;
      this.lastHash = hash;
      this.writeHead({ seq: full.seq, hash, at: full.at });
      return full;
    });
    const every = this.options.anchor?.everyRecords ?? 0;
    if (every > 0 && record.type !== 'audit.anchor' && record.seq % every === 0) void this.anchorNow();
    return record;
  }

  /**
   * Hands the head to the anchor hook (if any) and logs the receipt it returns. Resolves when done;
   * a failing hook is logged as a failed anchor, never thrown.
   */
  anchorNow(): Promise<void> {
    const anchor = this.options.anchor;
    if (!anchor) return Promise.resolve();
    const run = async (): Promise<void> => {
      const head = this.head();
      if (head.seq === 0) return;
      try {
        const receipt = await anchor.onAnchor(head);
        this.append({ type: 'audit.anchor', actor: 'system', action: 'anchor', outcome: 'succeeded', details: { seq: head.seq, hash: head.hash, ...(typeof receipt === 'string' ? { receipt } : {}) } });
      } catch (e) {
        this.append({ type: 'audit.anchor', actor: 'system', action: 'anchor', outcome: 'failed', details: { seq: head.seq, hash: head.hash, error: errorMessage(e) } });
      }
    };
    this.pendingAnchor = this.pendingAnchor.then(run);
    return this.pendingAnchor;
  }

  /** Reads every record (no verification; use `verify()` for that). */
  readAll(): AuditRecord[] {
    const text = this.readText();
    const out: AuditRecord[] = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        out.push(JSON.parse(line) as AuditRecord);
      } catch {
        // unreadable lines are verify()'s business
      }
    }
    return out;
  }

  /** Walks the whole chain; names the first bad record. */
  verify(): AuditVerification {
    return verifyAuditText(this.readText(), this.readHead());
  }

  /** Records with `at` in [from, to) for auditors, with the chain link before them and the verification. */
  export(from: number, to: number): AuditExport {
    if (!Number.isFinite(from) || !Number.isFinite(to) || from > to) {
      throw new EnergyMeshError('INVALID_ARGUMENT', `audit export: invalid period ${String(from)}..${String(to)}`);
    }
    const all = this.readAll();
    const records: AuditRecord[] = [];
    let prevHash = GENESIS_HASH;
    for (const r of all) {
      const t = Date.parse(r.at);
      if (t < from) prevHash = r.hash;
      else if (t < to) records.push(r);
    }
    return {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      exportedAt: new Date(this.clock()).toISOString(),
      verification: this.verify(),
      prevHash,
      records,
    };
  }

  // -------------------------------------------------------------------------------------------

  private readText(): string {
    try {
      return readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw new EnergyMeshError('LOG_CORRUPT', `audit log ${this.file}: cannot read: ${errorMessage(e)}`, { cause: e });
    }
  }

  private readHead(): AuditHead | 'unreadable' | undefined {
    if (!existsSync(this.headFile)) return undefined;
    try {
      const h = JSON.parse(readFileSync(this.headFile, 'utf8')) as AuditHead;
      return typeof h.seq === 'number' && typeof h.hash === 'string' ? h : 'unreadable';
    } catch {
      return 'unreadable';
    }
  }

  private writeHead(head: AuditHead): void {
    const tmp = `${this.headFile}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(head));
      const fd = openSync(tmp, 'r+');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.headFile);
    } catch (e) {
      throw new EnergyMeshError('LOG_WRITE_FAILED', `audit log ${this.headFile}: head not written: ${errorMessage(e)}`, { cause: e, retriable: true });
    }
  }

  /** Loads the last record's seq and hash if the file changed since we last looked. */
  private refreshTail(): void {
    let size: number;
    try {
      size = statSync(this.file).size;
    } catch {
      size = 0;
    }
    if (size === this.knownSize) return;
    this.knownSize = size;
    if (size === 0) {
      this.lastSeq = 0;
      this.lastHash = GENESIS_HASH;
      return;
    }
    const line = lastLine(this.file, size);
    try {
      const r = JSON.parse(line) as AuditRecord;
      if (typeof r.seq !== 'number' || typeof r.hash !== 'string') throw new Error('no seq or hash');
      this.lastSeq = r.seq;
      this.lastHash = r.hash;
    } catch (e) {
      throw new EnergyMeshError('LOG_CORRUPT', `audit log ${this.file}: its last record is unreadable (${errorMessage(e)}); run \`energymesh audit verify\``, { cause: e });
    }
  }

  private withLock<T>(fn: () => T): T {
    const deadline = Date.now() + (this.options.lockTimeoutMs ?? 5000);
    let fd: number | undefined;
    while (fd === undefined) {
      try {
        fd = openSync(this.lockFile, 'wx');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new EnergyMeshError('LOG_WRITE_FAILED', `audit log: cannot take ${this.lockFile}: ${errorMessage(e)}`, { cause: e });
        try {
          if (Date.now() - statSync(this.lockFile).mtimeMs > STALE_LOCK_MS) unlinkSync(this.lockFile);
        } catch {
          // gone meanwhile
        }
        if (Date.now() > deadline) throw new EnergyMeshError('LOG_LOCKED', `audit log: ${this.lockFile} is held by another writer`, { retriable: true });
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      }
    }
    try {
      return fn();
    } finally {
      closeSync(fd);
      try {
        unlinkSync(this.lockFile);
      } catch {
        // already removed as stale by another writer
      }
    }
  }
}

/** Checks a log's text (and optionally its head) without touching the disk; see `AuditLog.verify`. */
export function verifyAuditText(text: string, head?: AuditHead | 'unreadable'): AuditVerification {
  let prev = GENESIS_HASH;
  let seq = 0;
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const n = seq + 1;
    const bad = (reason: string): AuditVerification => ({ ok: false, records: seq, badRecord: n, reason: `record ${n}: ${reason}` });
    if (nl < 0) return bad('truncated (no end of line): the tail of the log was cut or altered');
    const line = text.slice(pos, nl);
    pos = nl + 1;
    let r: AuditRecord;
    try {
      r = JSON.parse(line) as AuditRecord;
    } catch {
      return bad('is not valid JSON: it was altered or two records were merged');
    }
    if (r === null || typeof r !== 'object' || Array.isArray(r)) return bad('is not a record');
    if (r.seq !== n) return bad(`carries seq ${String(r.seq)}: a record was deleted, inserted or moved here`);
    if (r.prev !== prev) return bad(`does not chain to record ${n - 1} (prev ${String(r.prev).slice(0, 12)}…, expected ${prev.slice(0, 12)}…): a record before it was removed, replaced or reordered`);
    const { hash, ...body } = r;
    let canonical: string;
    let expected: string;
    try {
      canonical = canonicalJson(r);
      expected = sha256(canonicalJson(body));
    } catch (e) {
      return bad(`cannot be serialized: ${errorMessage(e)}`);
    }
    if (hash !== expected) return bad('its content does not match its hash: it was altered');
    if (canonical !== line) return bad('is not in canonical form: its bytes were altered');
    prev = hash;
    seq = n;
  }
  if (head === 'unreadable') return { ok: false, records: seq, badRecord: seq + 1, reason: 'the head file audit.head.json is unreadable: it was altered' };
  if (head && (head.seq !== seq || head.hash !== prev)) {
    const reason =
      head.seq > seq
        ? `the log ends at record ${seq} but its head says ${head.seq}: records were cut off the tail`
        : `the head (record ${head.seq}, ${head.hash.slice(0, 12)}…) does not match the log's last record ${seq}: the log or its head was altered`;
    return { ok: false, records: seq, badRecord: Math.min(seq + 1, head.seq + 1), reason };
  }
  return { ok: true, records: seq, head: seq === 0 ? undefined : { seq, hash: prev, at: head?.at ?? '' } };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The last complete line of a file (without its newline), read backwards in chunks. */
function lastLine(file: string, size: number): string {
  const fd = openSync(file, 'r');
  try {
    const chunk = 65536;
    let end = size;
    // skip the final newline
    const one = Buffer.alloc(1);
    readSync(fd, one, 0, 1, size - 1);
    if (one[0] === 0x0a) end = size - 1;
    let start = end;
    const parts: Buffer[] = [];
    while (start > 0) {
      const from = Math.max(0, start - chunk);
      const buf = Buffer.alloc(start - from);
      readSync(fd, buf, 0, buf.length, from);
      const nl = buf.lastIndexOf(0x0a);
      if (nl >= 0) {
        parts.unshift(buf.subarray(nl + 1));
        break;
      }
      parts.unshift(buf);
      start = from;
    }
    return Buffer.concat(parts).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
