import { strict as assert } from 'node:assert';
import { BftEngine, type BftAction } from './bft-engine.ts';
import { NIL_HASH } from '../p2p/gossip-codec.ts';

const V = ['0xa1', '0xb2', '0xc3', '0xd4'].map((p) => p.padEnd(42, '0'));
const validators = V.map((address) => ({ address, stake: 100n }));
const B1 = `0x${'11'.repeat(32)}`;
const B2 = `0x${'22'.repeat(32)}`;

function engine(local: string, locked?: { round: number; blockHash: string }): BftEngine {
  return new BftEngine({ height: 5n, validators, proposerOf: (r) => V[r % 4]!, local: [local], ...(locked !== undefined ? { locked } : {}) });
}

const votes = (actions: BftAction[]): string[] => actions.filter((a) => a.type === 'vote').map((a) => (a.type === 'vote' ? `${a.kind}:${a.round}:${a.blockHash === NIL_HASH ? 'nil' : a.blockHash.slice(2, 4)}` : ''));

function prevotes(e: BftEngine, round: number, hash: string, who: string[]): BftAction[] {
  return who.flatMap((w) => e.onVote('prevote', round, w, hash, '0x').actions);
}
function precommits(e: BftEngine, round: number, hash: string, who: string[]): BftAction[] {
  return who.flatMap((w) => e.onVote('precommit', round, w, hash, `0x${w.slice(2, 4)}`).actions);
}

describe('BftEngine (prevote/precommit with locking)', () => {
  it('the proposer of round 0 proposes; a valid proposal is prevoted, a polka precommitted, a quorum of precommits decided', () => {
    const e = engine(V[0]!);
    const start = e.start();
    assert.deepEqual(start.map((a) => a.type), ['propose', 'timeout']);
    assert.deepEqual(votes(e.onProposal(0, B1, -1, true)), ['prevote:0:11']);
    assert.deepEqual(votes(prevotes(e, 0, B1, [V[0]!, V[1]!, V[2]!])), ['precommit:0:11']);
    assert.equal(e.lockedHash, B1);
    assert.equal(e.lockedRound, 0);
    const out = precommits(e, 0, B1, [V[0]!, V[1]!, V[2]!]);
    const decide = out.find((a) => a.type === 'decide');
    assert.ok(decide !== undefined && decide.type === 'decide');
    assert.equal(decide.blockHash, B1);
    assert.equal(decide.votes.length, 3);
  });

  it('an invalid proposal is prevoted nil, and a silent proposer is skipped by the propose timeout', () => {
    const e = engine(V[1]!);
    e.start();
    assert.deepEqual(votes(e.onProposal(0, B1, -1, false)), ['prevote:0:nil']);
    const f = engine(V[1]!);
    f.start();
    assert.deepEqual(votes(f.onTimeout('propose', 0)), ['prevote:0:nil']);
    // 2/3 nil prevotes → precommit nil; precommit timeout → round 1
    assert.deepEqual(votes(prevotes(f, 0, NIL_HASH, [V[0]!, V[2]!, V[3]!])), ['precommit:0:nil']);
    const t = precommits(f, 0, NIL_HASH, [V[0]!, V[2]!, V[1]!]); // its own precommit is fed back by the node
    assert.ok(t.some((a) => a.type === 'timeout' && a.step === 'precommit'));
    const next = f.onTimeout('precommit', 0);
    assert.equal(f.round, 1);
    assert.ok(next.some((a) => a.type === 'propose' && a.round === 1), 'V[1] proposes in round 1');
  });

  it('a locked validator prevotes nil for another block without a newer polka, and its block when re-proposed', () => {
    const e = engine(V[3]!, { round: 0, blockHash: B1 });
    e.start(1);
    assert.deepEqual(votes(e.onProposal(1, B2, -1, true)), ['prevote:1:nil']);
    const g = engine(V[3]!, { round: 0, blockHash: B1 });
    g.start(1);
    assert.deepEqual(votes(g.onProposal(1, B1, -1, true)), ['prevote:1:11']);
  });

  it('a lock is released by a polka for another block in a later round (proposal with validRound)', () => {
    const e = engine(V[3]!, { round: 0, blockHash: B1 });
    e.start(2);
    prevotes(e, 1, B2, [V[0]!, V[1]!, V[2]!]); // polka for B2 in round 1 > lockedRound 0
    assert.deepEqual(votes(e.onProposal(2, B2, 1, true)), ['prevote:2:22']);
    const f = engine(V[3]!, { round: 1, blockHash: B1 });
    f.start(2);
    prevotes(f, 0, B2, [V[0]!, V[1]!, V[2]!]); // polka in round 0 < lockedRound 1: stays locked
    assert.deepEqual(votes(f.onProposal(2, B2, 0, true)), ['prevote:2:nil']);
  });

  it('does not decide with less than 2/3 of the stake, nor on a block it has not verified (asks for it instead)', () => {
    const e = engine(V[0]!);
    e.start();
    const some = precommits(e, 0, B1, [V[1]!, V[2]!]);
    assert.ok(!some.some((a) => a.type === 'decide'));
    const more = precommits(e, 0, B1, [V[3]!]);
    assert.ok(!more.some((a) => a.type === 'decide'));
    assert.ok(more.some((a) => a.type === 'need-block' && a.blockHash === B1));
    const after = e.onBlockValid(B1);
    assert.ok(after.some((a) => a.type === 'decide' && a.blockHash === B1));
  });

  it('jumps to a higher round when more than 1/3 of the stake is there', () => {
    const e = engine(V[0]!);
    e.start();
    prevotes(e, 3, NIL_HASH, [V[1]!]);
    assert.equal(e.round, 0, '1/4 is not more than 1/3');
    prevotes(e, 3, NIL_HASH, [V[2]!]);
    assert.equal(e.round, 3);
  });

  it('reports a conflicting second vote of one validator in one round and does not count it', () => {
    const e = engine(V[0]!);
    e.start();
    assert.equal(e.onVote('precommit', 0, V[1]!, B1, '0x01').conflict, undefined);
    const r = e.onVote('precommit', 0, V[1]!, B2, '0x02');
    assert.deepEqual(r.conflict, { blockHash: B1, signature: '0x01' });
    assert.equal(e.precommitsFor(0, B2).length, 0);
  });

  it('a full node (no local validator) never votes or proposes', () => {
    const e = new BftEngine({ height: 1n, validators, proposerOf: () => V[0]!, local: [] });
    const a = [...e.start(), ...e.onProposal(0, B1, -1, true), ...prevotes(e, 0, B1, V), ...e.onTimeout('propose', 0)];
    assert.ok(!a.some((x) => x.type === 'vote' || x.type === 'propose'));
    const d = precommits(e, 0, B1, V);
    assert.ok(d.some((x) => x.type === 'decide'));
  });
});
