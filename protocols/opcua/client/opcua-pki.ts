/**
 * Our OPC UA client's PKI: its own certificate and key (created on first use) and the trust list of
 * server certificates, in one folder (node-opcua's layout: own/, trusted/, rejected/, issuers/).
 * Everything an operator does with certificates goes through this class — list, trust, reject — so
 * nobody moves files by hand; the plugin exposes it as CLI commands and API routes.
 *
 * A server certificate we have not trusted lands in rejected/ when we first meet it; `trust` moves it
 * to trusted/. Certificates are named by their SHA-1 thumbprint (hex, lower case, as OPC UA tools
 * show it); a unique prefix of at least 8 hex digits is accepted.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { OPCUACertificateManager } from 'node-opcua';
import { EnergyMeshError } from '../../../core/errors.ts';

export type CertificateStatus = 'trusted' | 'rejected';

/** One certificate in the trust list. */
export interface CertificateInfo {
  thumbprint: string;
  status: CertificateStatus;
  subject: string;
  /** The application URI from the subjectAltName, when present. */
  applicationUri?: string;
  notBefore: string;
  notAfter: string;
  file: string;
  /** When the file was written (newest rejected = the one just refused). */
  mtimeMs: number;
}

export interface OpcuaPkiOptions {
  /** The PKI folder (created on demand). */
  rootFolder: string;
  /** Our application URI, written in our certificate (must match the client's applicationUri). */
  applicationUri?: string;
  applicationName?: string;
}

/** SHA-1 thumbprint (hex, lower case) of a DER certificate. */
export function certificateThumbprint(der: Buffer): string {
  return createHash('sha1').update(der).digest('hex');
}

/** Reads a PEM or DER certificate file into DER bytes. */
export function readCertificateDer(file: string): Buffer {
  const raw = readFileSync(file);
  const text = raw.toString('latin1');
  if (text.includes('-----BEGIN CERTIFICATE-----')) return Buffer.from(new X509Certificate(raw).raw);
  return raw;
}

export class OpcuaPki {
  readonly rootFolder: string;
  readonly applicationUri: string;
  readonly applicationName: string;
  private manager: OPCUACertificateManager | undefined;

  constructor(options: OpcuaPkiOptions) {
    this.rootFolder = options.rootFolder;
    this.applicationName = options.applicationName ?? 'EnergyMesh';
    this.applicationUri = options.applicationUri ?? `urn:${hostname()}:energymesh:opcua-client`;
  }

  get certificateFile(): string {
    return join(this.rootFolder, 'own', 'certs', 'client_certificate.pem');
  }

  get privateKeyFile(): string {
    return join(this.rootFolder, 'own', 'private', 'private_key.pem');
  }

  /** The node-opcua certificate manager over this folder (initialized, own certificate created). */
  async certificateManager(): Promise<OPCUACertificateManager> {
    if (this.manager) {
      await this.manager.reloadCertificates();
      return this.manager;
    }
    mkdirSync(this.rootFolder, { recursive: true });
    const m = new OPCUACertificateManager({ rootFolder: this.rootFolder, automaticallyAcceptUnknownCertificate: false, disableFileWatchers: true, keySize: 2048 });
    await m.initialize();
    if (!existsSync(this.certificateFile)) {
      await m.createSelfSignedCertificate({
        outputFile: this.certificateFile,
        subject: `/CN=${this.applicationName} OPC UA client/O=EnergyMesh`,
        applicationUri: this.applicationUri,
        dns: [hostname(), 'localhost'],
        startDate: new Date(Date.now() - 24 * 3600_000),
        validity: 3650,
      });
    }
    this.manager = m;
    return m;
  }

  /** Our own certificate (DER), created if missing. */
  async ownCertificate(): Promise<CertificateInfo> {
    await this.certificateManager();
    return describe(readCertificateDer(this.certificateFile), 'trusted', this.certificateFile);
  }

  /** Every server certificate we know: trusted and rejected. */
  async list(): Promise<CertificateInfo[]> {
    const m = await this.certificateManager();
    return [...this.scan(m.trustedFolder, 'trusted'), ...this.scan(m.rejectedFolder, 'rejected')];
  }

  /** Trusts the certificate whose thumbprint starts with `thumbprint` (from rejected/ usually). */
  async trust(thumbprint: string): Promise<CertificateInfo> {
    const m = await this.certificateManager();
    const found = await this.find(thumbprint);
    const der = readCertificateDer(found.file);
    await m.trustCertificate(der);
    return { ...found, status: 'trusted', file: this.locate(m.trustedFolder, found.thumbprint) ?? found.file };
  }

  /** Trusts a certificate given as a PEM/DER file (e.g. handed over by the server's operator). */
  async trustFile(file: string): Promise<CertificateInfo> {
    const m = await this.certificateManager();
    const der = readCertificateDer(file);
    await m.trustCertificate(der);
    const t = certificateThumbprint(der);
    return describe(der, 'trusted', this.locate(m.trustedFolder, t) ?? file);
  }

  /** Rejects (distrusts) the certificate whose thumbprint starts with `thumbprint`. */
  async reject(thumbprint: string): Promise<CertificateInfo> {
    const m = await this.certificateManager();
    const found = await this.find(thumbprint);
    await m.rejectCertificate(readCertificateDer(found.file));
    return { ...found, status: 'rejected', file: this.locate(m.rejectedFolder, found.thumbprint) ?? found.file };
  }

  /** Whether a server certificate is trusted. */
  async statusOf(der: Buffer): Promise<CertificateStatus | 'unknown'> {
    const t = certificateThumbprint(der);
    const hit = (await this.list()).find((c) => c.thumbprint === t);
    return hit?.status ?? 'unknown';
  }

  async dispose(): Promise<void> {
    const m = this.manager;
    this.manager = undefined;
    if (m) await m.dispose();
  }

  private async find(prefix: string): Promise<CertificateInfo> {
    const p = prefix.toLowerCase().replace(/[^0-9a-f]/g, '');
    if (p.length < 8) {
      throw new EnergyMeshError('INVALID_ARGUMENT', `give at least 8 hex digits of the certificate thumbprint (got "${prefix}"); \`energymesh opcua certs list\` shows them`, {
        details: { thumbprint: prefix },
      });
    }
    const all = await this.list();
    const hits = all.filter((c) => c.thumbprint.startsWith(p));
    const unique = [...new Set(hits.map((h) => h.thumbprint))];
    if (unique.length === 0) {
      throw new EnergyMeshError('INVALID_ARGUMENT', `no certificate with thumbprint ${p} in ${this.rootFolder}; known: ${all.map((c) => `${c.thumbprint} (${c.status})`).join(', ') || 'none'}`, {
        details: { thumbprint: p },
      });
    }
    if (unique.length > 1) {
      throw new EnergyMeshError('INVALID_ARGUMENT', `thumbprint prefix ${p} is ambiguous: ${unique.join(', ')}`, { details: { thumbprint: p, matches: unique } });
    }
    return hits.find((h) => h.status === 'rejected') ?? (hits[0] as CertificateInfo);
  }

  private locate(folder: string, thumbprint: string): string | undefined {
    return this.scan(folder, 'trusted').find((c) => c.thumbprint === thumbprint)?.file;
  }

  private scan(folder: string, status: CertificateStatus): CertificateInfo[] {
    if (!existsSync(folder)) return [];
    const out: CertificateInfo[] = [];
    for (const name of readdirSync(folder).sort()) {
      if (!/\.(pem|der|crt)$/i.test(name)) continue;
      const file = join(folder, name);
      try {
        out.push(describe(readCertificateDer(file), status, file));
      } catch {
        // not a certificate (a stray file): ignore it
      }
    }
    return out;
  }
}

function describe(der: Buffer, status: CertificateStatus, file: string): CertificateInfo {
  const x = new X509Certificate(der);
  const uri = /URI:([^,\s]+)/.exec(x.subjectAltName ?? '')?.[1];
  return {
    thumbprint: certificateThumbprint(der),
    status,
    subject: x.subject.replace(/\n/g, ', '),
    ...(uri ? { applicationUri: uri } : {}),
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    file,
    mtimeMs: existsSync(file) ? statSync(file).mtimeMs : 0,
  };
}
