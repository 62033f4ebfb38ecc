/**
 * API tokens, hashed at rest. A token reads `em_<id>_<secret>`: the id finds the entry, the secret
 * (32 random bytes, base64url) is checked against its SHA-256 with a constant-time compare. The
 * secret has 256 bits of entropy, so a fast hash is safe here (slow hashes protect low-entropy
 * passwords). The file is written atomically with mode 0600; the clear token is shown once, at
 * creation, and never stored or logged.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { EnergyMeshError } from '../errors.ts';
import { isRole } from './roles.ts';
import type { Principal, Role } from './roles.ts';

export interface TokenRecord {
  id: string;
  name: string;
  role: Role;
  /** hex SHA-256 of the secret */
  hash: string;
  createdAt: string;
  revokedAt?: string;
}

export interface CreatedToken {
  record: Omit<TokenRecord, 'hash'>;
  /** The clear token: show it once. */
  token: string;
}

const TOKEN = /^em_([a-f0-9]{12})_([A-Za-z0-9_-]{43})$/;

export class TokenStore {
  private records: TokenRecord[] = [];
  private mtimeMs = 0;
  private checkedAt = 0;

  constructor(private readonly file: string) {
    this.reload();
  }

  reload(): void {
    let raw: unknown;
    try {
      this.mtimeMs = statSync(this.file).mtimeMs;
    } catch {
      this.mtimeMs = 0;
    }
    try {
      raw = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.records = [];
        return;
      }
      throw new EnergyMeshError('CONFIG_INVALID', `${this.file}: the token file is unreadable: ${(e as Error).message}`, { cause: e });
    }
    if (!Array.isArray(raw)) throw new EnergyMeshError('CONFIG_INVALID', `${this.file}: the token file must hold an array`);
    this.records = raw.filter((r): r is TokenRecord => typeof r === 'object' && r !== null && typeof (r as TokenRecord).id === 'string' && isRole((r as TokenRecord).role));
  }

  create(name: string, role: Role): CreatedToken {
    if (!isRole(role)) throw new EnergyMeshError('INVALID_ARGUMENT', `unknown role ${String(role)}; roles are viewer, operator, compliance-officer, admin`);
    if (typeof name !== 'string' || name.length === 0 || name.length > 100) throw new EnergyMeshError('INVALID_ARGUMENT', 'a token needs a name of 1 to 100 characters');
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const record: TokenRecord = { id, name, role, hash: sha256(secret), createdAt: new Date().toISOString() };
    this.records.push(record);
    this.save();
    const { hash: _hash, ...visible } = record;
    return { record: visible, token: `em_${id}_${secret}` };
  }

  revoke(id: string): void {
    const r = this.records.find((x) => x.id === id);
    if (!r) throw new EnergyMeshError('INVALID_ARGUMENT', `no token ${id}`);
    if (!r.revokedAt) r.revokedAt = new Date().toISOString();
    this.save();
  }

  list(): Omit<TokenRecord, 'hash'>[] {
    return this.records.map(({ hash: _hash, ...rest }) => rest);
  }

  /** Whether any token (revoked or not) was ever created. */
  isEmpty(): boolean {
    return this.records.length === 0;
  }

  /** The principal a bearer token stands for, or undefined for an unknown/revoked/garbled token. */
  authenticate(token: string): Principal | undefined {
    const m = TOKEN.exec(token);
    if (!m) return undefined;
    this.refreshIfChanged();
    const r = this.records.find((x) => x.id === m[1]);
    if (!r || r.revokedAt) return undefined;
    const a = Buffer.from(r.hash, 'hex');
    const b = Buffer.from(sha256(m[2] as string), 'hex');
    if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
    return { id: r.id, name: r.name, role: r.role };
  }

  /** Picks up changes another process (the CLI) made to the file; checks at most once a second. */
  private refreshIfChanged(): void {
    const now = Date.now();
    if (now - this.checkedAt < 1000) return;
    this.checkedAt = now;
    let mtime = 0;
    try {
      mtime = statSync(this.file).mtimeMs;
    } catch {
      mtime = 0;
    }
    if (mtime !== this.mtimeMs) this.reload();
  }

  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.records, null, 2), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
    this.mtimeMs = statSync(this.file).mtimeMs;
  }
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
