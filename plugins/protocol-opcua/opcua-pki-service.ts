/**
 * The plugin's one OpcuaPki (our certificate + the trust list), shared by the driver, the CLI
 * commands and the API routes. Its folder is `pkiDir` (relative to the plugin's data dir) or
 * `<data dir>/pki`.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { inject, injectable, PluginContext } from '../../core/plugin-api.ts';
import { OpcuaPki } from '../../protocols/opcua/client/opcua-pki.ts';
import type { OpcuaPluginConfig } from './opcua-config.ts';

@injectable()
export class OpcuaPkiService {
  private pki: OpcuaPki | undefined;

  constructor(@inject(PluginContext) private readonly ctx: PluginContext<OpcuaPluginConfig>) {}

  get folder(): string {
    const dir = this.ctx.config.pkiDir;
    if (!dir) return join(this.ctx.dataDir, 'pki');
    return isAbsolute(dir) ? dir : resolve(this.ctx.dataDir, dir);
  }

  get(): OpcuaPki {
    this.pki ??= new OpcuaPki({ rootFolder: this.folder, applicationName: this.ctx.config.applicationName ?? 'EnergyMesh' });
    return this.pki;
  }

  async dispose(): Promise<void> {
    const p = this.pki;
    this.pki = undefined;
    await p?.dispose();
  }
}
