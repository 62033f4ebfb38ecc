import assert from 'node:assert/strict';
import { isEnergyMeshError } from '../../core/errors.ts';
import { DEFAULT_CONSENSUS, GENESIS_SUPPLY_EB, parseGenesis, WEI_PER_EB } from './genesis.ts';

const A = '0x' + '11'.repeat(20);
const B = '0x' + '22'.repeat(20);
const C = '0x' + '33'.repeat(20);
const D = '0x' + '44'.repeat(20);

describe('genesis', () => {
  it('expands the seed distribution to 40/30/20/10 % of 1,000,000,000 EB', () => {
    const g = parseGenesis({ chainId: 7, seed: { producers: A, operations: B, ecosystem: C, partnerships: D } });
    assert.equal(g.alloc.get(A), 400_000_000n * WEI_PER_EB);
    assert.equal(g.alloc.get(B), 300_000_000n * WEI_PER_EB);
    assert.equal(g.alloc.get(C), 200_000_000n * WEI_PER_EB);
    assert.equal(g.alloc.get(D), 100_000_000n * WEI_PER_EB);
    const total = [...g.alloc.values()].reduce((a, b) => a + b, 0n);
    assert.equal(total, GENESIS_SUPPLY_EB * WEI_PER_EB);
  });

  it('applies the design defaults to consensus parameters and accepts overrides', () => {
    const g = parseGenesis({ chainId: 7 });
    assert.equal(g.consensus.blockTimeMs, 5000);
    assert.equal(g.consensus.minStake, 32_000n * WEI_PER_EB);
    assert.equal(g.consensus.maxValidators, 1000);
    assert.equal(g.consensus.blockReward, 2n * WEI_PER_EB);
    assert.equal(g.consensus.epochSeconds, 23_040);
    assert.deepEqual(DEFAULT_CONSENSUS.offlineSlashBpsPerDay, 10);
    const h = parseGenesis({ chainId: '0x10', consensus: { blockTimeMs: 200, blockReward: '0' } });
    assert.equal(h.chainId, 16n);
    assert.equal(h.consensus.blockTimeMs, 200);
    assert.equal(h.consensus.blockReward, 0n);
  });

  it('sums seed and explicit allocations to the same address', () => {
    const g = parseGenesis({ chainId: 7, seed: { producers: A, operations: A, ecosystem: A, partnerships: A }, alloc: { [A]: '5' } });
    assert.equal(g.alloc.get(A), GENESIS_SUPPLY_EB * WEI_PER_EB + 5n);
  });

  const bad: [string, unknown, string][] = [
    ['unknown field', { chainId: 1, foo: 1 }, 'foo'],
    ['zero chain id', { chainId: 0 }, 'chainId'],
    ['bad address', { chainId: 1, alloc: { '0x12': '1' } }, 'alloc.0x12'],
    ['missing seed role', { chainId: 1, seed: { producers: A } }, 'seed.operations'],
    ['negative balance', { chainId: 1, alloc: { [A]: '-1' } }, `alloc.${A}`],
    ['stake below minimum', { chainId: 1, validators: [{ address: A, stake: '1' }] }, 'validators[0].stake'],
    ['duplicate validator', { chainId: 1, validators: [{ address: A, stake: (32_000n * WEI_PER_EB).toString() }, { address: A, stake: (32_000n * WEI_PER_EB).toString() }] }, 'validators[1].address'],
    ['sub-50 ms block time', { chainId: 1, consensus: { blockTimeMs: 10 } }, 'consensus.blockTimeMs'],
    ['unknown parameter', { chainId: 1, consensus: { foo: 1 } }, 'consensus.foo'],
    ['not an object', [], '(root)'],
  ];
  for (const [name, input, field] of bad) {
    it(`rejects ${name} naming the field`, () => {
      assert.throws(() => parseGenesis(input), (e: unknown) => isEnergyMeshError(e, 'CONFIG_INVALID') && e.details.field === field);
    });
  }
});
