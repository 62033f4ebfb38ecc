/**
 * protocol.opcua: binds the OPC UA driver, its certificate CLI commands and API routes. The protocol
 * itself lives in protocols/opcua.
 */
import { CliCommandsContribution, ContainerModule, HttpRoutesContribution, LifecycleContribution, ProtocolDriverContribution } from '../../core/plugin-api.ts';
import { OpcuaCertificates, OpcuaCliContribution, OpcuaDriverContribution, OpcuaRoutesContribution } from './opcua-contributions.ts';
import { OpcuaPkiService } from './opcua-pki-service.ts';

export { OpcuaCertificates, OpcuaCliContribution, OpcuaDriverContribution, OpcuaRoutesContribution, OpcuaPkiService };
export type { OpcuaPluginConfig } from './opcua-config.ts';

export default new ContainerModule(({ bind }) => {
  bind(OpcuaPkiService).toSelf().inSingletonScope();
  bind(OpcuaCertificates).toSelf().inSingletonScope();
  bind(OpcuaDriverContribution).toSelf().inSingletonScope();
  bind(ProtocolDriverContribution).toService(OpcuaDriverContribution);
  bind(LifecycleContribution).toService(OpcuaDriverContribution);
  bind(OpcuaCliContribution).toSelf().inSingletonScope();
  bind(CliCommandsContribution).toService(OpcuaCliContribution);
  bind(OpcuaRoutesContribution).toSelf().inSingletonScope();
  bind(HttpRoutesContribution).toService(OpcuaRoutesContribution);
});
