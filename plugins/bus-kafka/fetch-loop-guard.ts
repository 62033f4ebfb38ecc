/**
 * Keeps a stopping kafkajs 2.2.4 consumer from spinning forever (the process hang seen when the Kafka bus was
 * stopped during a broker outage).
 *
 * Root cause, in node_modules/kafkajs/src/consumer:
 * - `Runner.stop()` (runner.js) sets `running = false`, then `fetchManager.stop()` stops the fetchers that
 *   exist *at that moment* and waits for the consumer loop to end (`waitForConsumer`).
 * - `FetchManager.start()` (fetchManager.js) runs the fetchers in a loop; when a fetcher throws
 *   `KafkaJSFetcherRebalanceError` (the broker set changed under it) it awaits `stop()` of the old fetchers,
 *   logs `Rebalancing fetchers...` and creates a **new** set (`Created N fetchers`).
 * - During an outage the broker set changes all the time: a fetch that fails with a closed connection makes
 *   the consumer group `removeBroker()` (consumerGroup.js `recoverFromFetch`), so the next fetch of the
 *   other fetchers throws the rebalance error. If `Runner.stop()` comes while the fetch manager is waiting
 *   for an old fetcher's pending fetch against a dead broker, `Runner.stop()` stops those old fetchers and
 *   returns to wait; then the fetch manager goes on and creates new fetchers that nobody stops.
 * - A new fetcher loops `while (isRunning) await fetch(nodeId)` (fetcher.js), and `Runner.fetch()` returns
 *   `[]` at once when `running` is false. Every turn is an already-resolved promise: the loop runs on
 *   microtasks only and never yields to the event loop, so no timer, socket or signal handler runs again —
 *   the process hangs at 100% CPU (`consumer not running, exiting` logged in a tight loop at debug level).
 *
 * The loop calls none of our code except kafkajs' logger, and its debug lines mark each step. So the
 * consumer's client logs at debug into this guard: once the runner has begun stopping (`stop consumer
 * group`), the fetch manager's attempt to create new fetchers (`Rebalancing fetchers...` / `Created N
 * fetchers`) throws a non-retriable error out of `FetchManager.start()`. The runner's retrier then gives
 * up at once (non-retriable), emits the consumer-stop that `Runner.stop()` waits for, and the consumer
 * crashes into its normal disconnect path. As a last resort, a run of `consumer not running, exiting`
 * lines after the stop (a spin by a path not known here) throws the same way.
 *
 * The strings are kafkajs 2.2.4's; fetch-loop-guard.spec.ts checks they are still in the installed kafkajs
 * so an upgrade that changes them fails the tests instead of bringing the hang back silently.
 */
import type { LogEntry } from 'kafkajs';

import { EnergyMeshError } from '../../core/errors.ts';

/** The kafkajs debug lines the guard reacts to (namespace, message). */
export const KAFKAJS_MARKERS = {
  runnerStopping: { namespace: 'Runner', message: 'stop consumer group', file: 'src/consumer/runner.js' },
  rebalancingFetchers: { namespace: 'FetchManager', message: 'Rebalancing fetchers...', file: 'src/consumer/fetchManager.js' },
  createdFetchers: { namespace: 'FetchManager', message: 'Created ', file: 'src/consumer/fetchManager.js' },
  notRunning: { namespace: 'Runner', message: 'consumer not running, exiting', file: 'src/consumer/runner.js' },
} as const;

/** `consumer not running, exiting` lines after a stop beyond which the guard treats the loop as a spin. */
export const SPIN_LINES = 1000;

export class FetchLoopGuard {
  private stopping = false;
  private notRunningLines = 0;
  /** How many times the guard broke a fetch loop (shown in health as `fetchLoopAborts`). */
  aborts = 0;

  /** The consumer is being stopped by us (also detected from kafkajs' own `stop consumer group` line). */
  markStopping(): void {
    this.stopping = true;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** Looks at one kafkajs log entry; throws to end the fetch manager when it would start fetchers after a stop. */
  inspect(entry: Pick<LogEntry, 'namespace' | 'label' | 'log'>): void {
    if (entry.label !== 'DEBUG') return;
    const { namespace } = entry;
    const message = entry.log.message;
    if (namespace === KAFKAJS_MARKERS.runnerStopping.namespace && message === KAFKAJS_MARKERS.runnerStopping.message) {
      this.stopping = true;
      return;
    }
    if (!this.stopping) return;
    if (namespace === 'FetchManager' && (message === KAFKAJS_MARKERS.rebalancingFetchers.message || message.startsWith(KAFKAJS_MARKERS.createdFetchers.message))) {
      this.abort(`kafkajs fetch manager would start new fetchers (${message}) after the consumer began stopping`);
    }
    if (namespace === KAFKAJS_MARKERS.notRunning.namespace && message === KAFKAJS_MARKERS.notRunning.message && ++this.notRunningLines > SPIN_LINES) {
      this.abort(`kafkajs fetch loop spinning after the consumer began stopping (${this.notRunningLines} empty fetches)`);
    }
  }

  private abort(why: string): never {
    this.aborts++;
    this.notRunningLines = 0;
    // retriable: false makes kafkajs' retrier give up at once (KafkaJSNonRetriableError) instead of retrying.
    throw new EnergyMeshError('BUS_CLOSED', `kafka bus: consumer stop: ${why}; fetch loop ended`, { retriable: false });
  }
}
