/** plugin.json (schemas/plugin-manifest.schema.json). */
export type PluginKind = 'protocol' | 'bus' | 'historian' | 'compliance' | 'chain' | 'service' | 'ui' | 'simulator';

export interface PluginManifest {
  id: string;
  kind: PluginKind;
  version: string;
  /** Major version of the plugin API the plugin targets. */
  apiVersion: string;
  /** Module whose default export is an inversify ContainerModule. */
  entry: string;
  configSchema?: string;
  dependsOn?: string[];
  capabilities?: string[];
  description?: string;
  /** How long the plugin's start may take (ms), when longer than the kernel's default (15 s). */
  startTimeoutMs?: number;
}

/** The plugin API majors this core accepts. */
export const SUPPORTED_PLUGIN_API_VERSIONS: readonly string[] = ['1'];
