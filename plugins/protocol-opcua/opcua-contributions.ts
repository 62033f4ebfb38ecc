/**
 * What protocol.opcua contributes: the driver, start/stop hooks (node-opcua's own logging routed to
 * ours), the `energymesh opcua certs ...` CLI commands and the certificate API routes.
 */
import { EnergyMeshError, inject, injectable, PluginContext } from '../../core/plugin-api.ts';
import type {
  CliCommandDefinition,
  CliCommandsContribution,
  HttpRouter,
  HttpRoutesContribution,
  LifecycleContribution,
  ProtocolDriverContribution,
  ProtocolDriverRegistry,
} from '../../core/plugin-api.ts';
import { routeNodeOpcuaLogs } from '../../protocols/opcua/client/opcua-logging.ts';
import type { CertificateInfo } from '../../protocols/opcua/client/opcua-pki.ts';
import type { OpcuaPluginConfig } from './opcua-config.ts';
import { OpcuaDriver } from './opcua-driver.ts';
import { OpcuaPkiService } from './opcua-pki-service.ts';

@injectable()
export class OpcuaDriverContribution implements ProtocolDriverContribution, LifecycleContribution {
  driver: OpcuaDriver | undefined;

  constructor(
    @inject(PluginContext) private readonly ctx: PluginContext<OpcuaPluginConfig>,
    @inject(OpcuaPkiService) private readonly pki: OpcuaPkiService,
  ) {}

  onStart(): void {
    const log = this.ctx.logger;
    routeNodeOpcuaLogs({ warn: (m) => log.debug({ source: 'node-opcua' }, m), error: (m) => log.warn({ source: 'node-opcua' }, m) });
  }

  async onStop(): Promise<void> {
    await this.pki.dispose();
  }

  registerDrivers(registry: ProtocolDriverRegistry): void {
    this.driver = new OpcuaDriver(this.ctx.config, this.pki.get(), this.ctx.logger);
    registry.register(this.driver);
  }
}

/** The certificate operations behind both the CLI and the API. */
@injectable()
export class OpcuaCertificates {
  constructor(@inject(OpcuaPkiService) private readonly pki: OpcuaPkiService) {}

  async list(): Promise<{ folder: string; own: CertificateInfo; certificates: CertificateInfo[] }> {
    const p = this.pki.get();
    return { folder: p.rootFolder, own: await p.ownCertificate(), certificates: await p.list() };
  }

  trust(thumbprint: string): Promise<CertificateInfo> {
    return this.pki.get().trust(thumbprint);
  }

  trustFile(file: string): Promise<CertificateInfo> {
    return this.pki.get().trustFile(file);
  }

  reject(thumbprint: string): Promise<CertificateInfo> {
    return this.pki.get().reject(thumbprint);
  }
}

function line(c: CertificateInfo): string {
  return `${c.status.padEnd(8)} ${c.thumbprint}  ${c.subject}${c.applicationUri ? `  ${c.applicationUri}` : ''}  valid until ${c.notAfter.slice(0, 10)}`;
}

@injectable()
export class OpcuaCliContribution implements CliCommandsContribution {
  constructor(@inject(OpcuaCertificates) private readonly certs: OpcuaCertificates) {}

  commands(): CliCommandDefinition[] {
    return [
      {
        name: 'opcua',
        description: 'OPC UA certificates: `opcua certs list`, `opcua certs trust <thumbprint>` (or --file cert.pem), `opcua certs reject <thumbprint>`',
        arguments: [
          { name: 'group', description: 'certs', required: true },
          { name: 'action', description: 'list | trust | reject', required: true },
          { name: 'thumbprint', description: 'SHA-1 thumbprint (or a unique prefix of 8+ hex digits)' },
        ],
        options: [
          { flags: '--file <cert>', description: 'trust: a PEM/DER certificate file instead of a thumbprint' },
          { flags: '--json', description: 'print JSON' },
        ],
        run: (args, options) => this.run(args, options, (s) => process.stdout.write(`${s}\n`), (s) => process.stderr.write(`${s}\n`)),
      },
    ];
  }

  /** Runs `opcua <group> <action> [thumbprint]`; returns the exit code. */
  async run(args: string[], options: Record<string, unknown>, out: (s: string) => void, err: (s: string) => void): Promise<number> {
    const [group, action, thumbprint] = args;
    const json = options.json === true;
    try {
      if (group !== 'certs') throw new EnergyMeshError('INVALID_ARGUMENT', `unknown command group ${group}; use: energymesh opcua certs list|trust|reject`);
      if (action === 'list') {
        const l = await this.certs.list();
        if (json) out(JSON.stringify(l, null, 2));
        else {
          out(`PKI folder: ${l.folder}`);
          out(`own      ${l.own.thumbprint}  ${l.own.subject}  ${l.own.applicationUri ?? ''}`);
          for (const c of l.certificates) out(line(c));
          if (l.certificates.length === 0) out('no server certificates yet (a server we connect to with security lands in "rejected" until trusted)');
        }
        return 0;
      }
      if (action === 'trust' || action === 'reject') {
        const file = typeof options.file === 'string' ? options.file : undefined;
        if (!thumbprint && !(action === 'trust' && file)) throw new EnergyMeshError('INVALID_ARGUMENT', `give the thumbprint: energymesh opcua certs ${action} <thumbprint>`);
        const c = action === 'trust' ? (file ? await this.certs.trustFile(file) : await this.certs.trust(thumbprint as string)) : await this.certs.reject(thumbprint as string);
        out(json ? JSON.stringify(c, null, 2) : `${action === 'trust' ? 'trusted' : 'rejected'} ${line(c)}`);
        return 0;
      }
      throw new EnergyMeshError('INVALID_ARGUMENT', `unknown action ${action}; use list, trust or reject`);
    } catch (e) {
      err(`energymesh opcua: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
  }
}

const thumbprintParams = {
  type: 'object',
  required: ['thumbprint'],
  properties: { thumbprint: { type: 'string', pattern: '^[0-9A-Fa-f:]{8,64}$', description: 'SHA-1 thumbprint or a unique prefix (8+ hex digits).' } },
};

/**
 * Gives a thrown EnergyMeshError an HTTP `statusCode` too, so the API answers 400 for a bad thumbprint
 * even when the error class reaches the server from another module instance (plugins imported by file
 * URL under tsx get their own copy of core/errors.ts, and `instanceof` then fails).
 */
async function withHttpStatus<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const code: unknown = e instanceof Error ? (e as Error & { code?: unknown }).code : undefined;
    if (e instanceof Error && typeof code === 'string' && (e as Error & { statusCode?: unknown }).statusCode === undefined) {
      Object.assign(e, { statusCode: code === 'INVALID_ARGUMENT' ? 400 : 500 });
    }
    throw e;
  }
}

@injectable()
export class OpcuaRoutesContribution implements HttpRoutesContribution {
  constructor(@inject(OpcuaCertificates) private readonly certs: OpcuaCertificates) {}

  registerRoutes(router: HttpRouter): void {
    router.route({ method: 'GET', path: 'certs', summary: 'Our OPC UA client certificate and the trusted / rejected server certificates', handler: () => withHttpStatus(() => this.certs.list()) });
    router.route({
      method: 'POST',
      path: 'certs/:thumbprint/trust',
      summary: 'Trust a server certificate (usually one from the rejected list)',
      schema: { params: thumbprintParams },
      handler: (req) => withHttpStatus(() => this.certs.trust(req.params.thumbprint ?? '')),
    });
    router.route({
      method: 'POST',
      path: 'certs/:thumbprint/reject',
      summary: 'Reject (distrust) a server certificate',
      schema: { params: thumbprintParams },
      handler: (req) => withHttpStatus(() => this.certs.reject(req.params.thumbprint ?? '')),
    });
  }
}
