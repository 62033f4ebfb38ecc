/**
 * A child process for kafka-stop.test.ts: stops Kafka buses right after their broker died, so the parent can
 * tell a hang (this process stops answering) from stops that return. Reads one JSON argument
 *   { dataDir, cycles, buses, delaysMs: number[] }
 * and per cycle: starts a mock cluster (prints `kcat <pid>`), a publishing bus and `buses - 1` more buses, each
 * with one consumer group on the topic; once every consumer received records, kills the broker (SIGKILL;
 * prints `killed <cycle>`) and stops each bus at its own moment (below), all while the publisher keeps
 * publishing into its spool; then prints
 * `stopped <cycle> <accepted> <forwarded> <ms> <aborts>` (accepted: records publish() accepted; forwarded:
 * records Kafka acknowledged; ms: the slowest stop; aborts: consumer fetch loops the buses had to end, see
 * plugins/bus-kafka/fetch-loop-guard.ts). Prints `done` at the end. The publisher's spool of cycle i stays in
 * `<dataDir>/<i>/pub` for the parent to replay. A stop that spins never prints.
 *
 * The moment of each stop: kafkajs hangs when a consumer stops while its fetch manager is rebuilding its
 * fetchers for a changed broker set (its own `Stopping fetchers...`, not one from a consumer stop), waiting
 * for a fetch still pending against the dead brokers. Bus i stops delaysMs[i] after its consumer's first
 * such moment (2 s after the kill if none comes), so the buses sample that window at several points.
 */
import { join } from 'node:path';

import { KafkaBus } from '../../../plugins/bus-kafka/kafka-bus.ts';
import { startKafka } from '../../support/kafka-mock.ts';
import { record, testConfig, until } from './helpers.ts';

interface Args {
  dataDir: string;
  cycles: number;
  buses: number;
  delaysMs: number[];
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

interface Member {
  bus: KafkaBus;
  received: number;
  armed: boolean;
  /** Resolves when this bus should stop. */
  moment: Promise<void>;
  rebuilding: (() => void) | null;
}

for (let cycle = 0; cycle < args.cycles; cycle++) {
  const cluster = await startKafka();
  out(`kcat ${String(cluster.pid)}`);
  const prefix = `stop${cycle}`;
  const topic = `${prefix}.telemetry`;
  const members: Member[] = [];
  for (let i = 0; i < args.buses; i++) {
    const m = { received: 0, armed: false, rebuilding: null } as Partial<Member> as Member;
    const stopping = new Set<string>();
    const delay = args.delaysMs[i % args.delaysMs.length] ?? 300;
    m.moment = new Promise<void>((resolve) => {
      m.rebuilding = () => {
        m.rebuilding = null;
        setTimeout(resolve, delay);
      };
      const fallback = (): void => {
        if (m.armed) setTimeout(() => resolve(), 2000);
        else setTimeout(fallback, 50);
      };
      fallback();
    });
    m.bus = new KafkaBus({
      prefix,
      dataDir: join(args.dataDir, String(cycle), i === 0 ? 'pub' : `c${i}`),
      config: testConfig(cluster.brokers),
      consumerLogTap: (group, e) => {
        if (e.namespace === 'Runner' && e.message === 'stop consumer group') stopping.add(group);
        if (m.armed && e.namespace === 'FetchManager' && e.message === 'Stopping fetchers...' && !stopping.has(group)) m.rebuilding?.();
      },
    });
    await m.bus.start();
    await m.bus.subscribe(topic, { group: `g${i}`, fromBeginning: true }, (b) => {
      m.received += b.length;
    });
    members.push(m);
  }
  const pub = (members[0] as Member).bus;
  let seq = 0;
  let accepted = 0;
  let publishing = true;
  const publisher = (async () => {
    while (publishing) {
      const batch = [];
      for (let i = 0; i < 20; i++, seq++) batch.push({ key: `dev-${seq % 5}`, value: record(`dev-${seq % 5}`, seq, seq) });
      await pub.publish(topic, batch);
      accepted += batch.length;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  await until('every consumer receives records', () => members.every((m) => m.received >= 200), 60_000);
  for (const m of members) m.armed = true;
  await cluster.kill();
  out(`killed ${cycle}`);
  let forwarded = 0;
  let slowest = 0;
  await Promise.all(
    members.map(async (m, i) => {
      await m.moment;
      if (i === 0) {
        publishing = false;
        await publisher;
        forwarded = Number(m.bus.health().details?.[`${topic}.forwarded`] ?? 0);
      }
      const t0 = Date.now();
      await m.bus.stop();
      slowest = Math.max(slowest, Date.now() - t0);
    }),
  );
  const aborts = members.reduce((n, m) => n + m.bus.fetchLoopAborts, 0);
  out(`stopped ${cycle} ${accepted} ${forwarded} ${slowest} ${aborts}`);
}
out('done');
