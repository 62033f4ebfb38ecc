import assert from 'node:assert/strict';
import { DEFAULT_CONSENSUS } from '../execution/genesis.ts';
import { performancePermille, previousAnchor } from './performance.ts';
import { epochBlocks, genesisEpochBlocks, weightOf } from './schedule.ts';

describe('EMPoS performance (schedule weight) from finalized offline time', () => {
  it('is 1000 × (1 − Δoffline/Δt), floored and clamped to [0, 1000]', () => {
    // one epoch of 1,000 s, offline 0 / 250 / 333 / 1,000 s of it
    assert.equal(performancePermille(0n, 0n, 2000n, 1000n), 1000);
    assert.equal(performancePermille(400n, 150n, 2000n, 1000n), 750);
    assert.equal(performancePermille(333n, 0n, 2000n, 1000n), 667, 'floor(1000 × 667 / 1000)');
    assert.equal(performancePermille(1n, 0n, 3n, 0n), 666, 'floor, never rounded up');
    assert.equal(performancePermille(1000n, 0n, 2000n, 1000n), 0);
    // more offline time than elapsed (cannot happen on one clock; clamped anyway) and counters going back
    assert.equal(performancePermille(5000n, 0n, 2000n, 1000n), 0);
    assert.equal(performancePermille(0n, 10n, 2000n, 1000n), 1000);
  });

  it('is 1000 when no time elapsed or there is no history', () => {
    assert.equal(performancePermille(50n, 0n, 1000n, 1000n), 1000, 'Δt = 0');
    assert.equal(performancePermille(50n, 0n, 900n, 1000n), 1000, 'Δt < 0');
    assert.equal(previousAnchor(0n, 10n), undefined, 'epoch 0 (anchored at genesis): no history');
    assert.equal(previousAnchor(10n, 10n), 0n, 'epoch 1: the window starts at the genesis');
    assert.equal(previousAnchor(30n, 10n), 20n);
  });

  it('weighs the schedule draw by stake × max(performance‰, 100) / 1000', () => {
    assert.equal(weightOf({ stake: 1000n, performancePermille: performancePermille(250n, 0n, 1000n, 0n) }), 750n);
    assert.equal(weightOf({ stake: 1000n, performancePermille: 0 }), 100n, 'floored at 10 %');
  });

  it('takes the epoch length from the genesis only', () => {
    assert.equal(genesisEpochBlocks(DEFAULT_CONSENSUS), epochBlocks(DEFAULT_CONSENSUS.epochSeconds, DEFAULT_CONSENSUS.blockTimeMs));
    assert.equal(genesisEpochBlocks({ epochSeconds: 6, blockTimeMs: 500 }), 12n);
  });
});
