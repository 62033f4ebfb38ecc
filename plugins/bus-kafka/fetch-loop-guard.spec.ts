import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { isEnergyMeshError } from '../../core/errors.ts';
import { FetchLoopGuard, KAFKAJS_MARKERS, SPIN_LINES } from './fetch-loop-guard.ts';

const entry = (namespace: string, message: string, label = 'DEBUG'): { namespace: string; label: string; log: { message: string; timestamp: string; logger: string } } => ({
  namespace,
  label,
  log: { message, timestamp: '', logger: 'kafkajs' },
});

describe('FetchLoopGuard (kafkajs fetch-loop spin at consumer stop)', () => {
  it('lets kafkajs rebuild its fetchers while the consumer runs', () => {
    const g = new FetchLoopGuard();
    g.inspect(entry('FetchManager', 'Rebalancing fetchers...'));
    g.inspect(entry('FetchManager', 'Created 3 fetchers'));
    assert.equal(g.aborts, 0);
  });

  it('throws a non-retriable error when the fetch manager would create fetchers after the runner began stopping', () => {
    const g = new FetchLoopGuard();
    g.inspect(entry('Runner', 'stop consumer group'));
    assert.equal(g.isStopping, true);
    assert.throws(
      () => g.inspect(entry('FetchManager', 'Rebalancing fetchers...')),
      (e: unknown) => isEnergyMeshError(e, 'BUS_CLOSED') && e.retriable === false,
    );
    assert.throws(() => g.inspect(entry('FetchManager', 'Created 2 fetchers')));
    assert.equal(g.aborts, 2);
  });

  it('after markStopping() too, and ignores the same text at other levels or namespaces', () => {
    const g = new FetchLoopGuard();
    g.markStopping();
    g.inspect(entry('FetchManager', 'Rebalancing fetchers...', 'INFO'));
    g.inspect(entry('Runner', 'Rebalancing fetchers...'));
    assert.throws(() => g.inspect(entry('FetchManager', 'Rebalancing fetchers...')));
  });

  it('ends any other spin: a run of empty fetches after the stop', () => {
    const g = new FetchLoopGuard();
    g.markStopping();
    for (let i = 0; i < SPIN_LINES; i++) g.inspect(entry('Runner', 'consumer not running, exiting'));
    assert.throws(() => g.inspect(entry('Runner', 'consumer not running, exiting')));
  });

  it('the installed kafkajs still logs the lines the guard relies on, where it relies on them', () => {
    const require = createRequire(import.meta.url);
    const root = dirname(require.resolve('kafkajs/package.json'));
    const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
    for (const m of Object.values(KAFKAJS_MARKERS)) {
      const src = readFileSync(join(root, m.file), 'utf8');
      assert.ok(src.includes(`'${m.message}`) || src.includes(`\`${m.message}`), `kafkajs ${version} ${m.file} no longer logs "${m.message}": review plugins/bus-kafka/fetch-loop-guard.ts`);
    }
    const manager = readFileSync(join(root, 'src/consumer/fetchManager.js'), 'utf8');
    assert.match(manager, /namespace\('FetchManager'\)/);
    const runner = readFileSync(join(root, 'src/consumer/runner.js'), 'utf8');
    assert.match(runner, /namespace\('Runner'\)/);
    // the spin itself: Runner.fetch returns at once when not running
    assert.match(runner, /async fetch\(nodeId\) \{\s*if \(!this\.running\) \{/);
  });
});
