import { MmsClient } from '../../../protocols/iec61850/client/mms-client.ts';
import { sessionSuite } from '../../../protocols/iec61850/testing/session-suite.ts';

sessionSuite('TCP (loopback)', async (server, o) => {
  const port = await server.listen(0, '127.0.0.1');
  return MmsClient.connectTcp('127.0.0.1', port, o);
});
