import { MmsClient } from './mms-client.ts';
import { memoryChannelPair } from '../transport/byte-channel.ts';
import { sessionSuite } from '../testing/session-suite.ts';

sessionSuite('an in-memory channel pair', async (server, o) => {
  const [a, b] = memoryChannelPair();
  server.attach(b);
  return MmsClient.associate(a, o);
});
