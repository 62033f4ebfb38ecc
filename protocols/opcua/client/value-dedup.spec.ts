import assert from 'node:assert/strict';
import { ValueDedup } from './value-dedup.ts';

describe('opcua value dedup', () => {
  it('drops a change replayed with the same source time, status and value', () => {
    const d = new ValueDedup();
    const c = { value: 1.5, statusCode: 0, sourceTimestamp: 1000, serverTimestamp: 1001 };
    assert.equal(d.accept('a', c), true);
    assert.equal(d.accept('a', { ...c, serverTimestamp: 2000 }), false, 'the server time may differ on a replay');
    assert.equal(d.duplicates, 1);
  });

  it('keeps changes that differ in value, status, source time or item', () => {
    const d = new ValueDedup();
    const c = { value: 1, statusCode: 0, sourceTimestamp: 1000 };
    assert.equal(d.accept('a', c), true);
    assert.equal(d.accept('a', { ...c, value: 2 }), true);
    assert.equal(d.accept('a', { ...c, statusCode: 0x80000000 }), true);
    assert.equal(d.accept('a', { ...c, sourceTimestamp: 1001 }), true);
    assert.equal(d.accept('a', { ...c, sourcePicoseconds: 10 }), true);
    assert.equal(d.accept('b', c), true);
    assert.equal(d.duplicates, 0);
  });

  it('falls back to the server time, and never drops changes without any timestamp', () => {
    const d = new ValueDedup();
    assert.equal(d.accept('a', { value: 'x', statusCode: 0, serverTimestamp: 5 }), true);
    assert.equal(d.accept('a', { value: 'x', statusCode: 0, serverTimestamp: 5 }), false);
    assert.equal(d.accept('a', { value: 'x', statusCode: 0 }), true);
    assert.equal(d.accept('a', { value: 'x', statusCode: 0 }), true);
  });

  it('remembers only the last `depth` keys per item', () => {
    const d = new ValueDedup(2);
    for (const t of [1, 2, 3]) assert.equal(d.accept('a', { value: t, statusCode: 0, sourceTimestamp: t }), true);
    assert.equal(d.accept('a', { value: 1, statusCode: 0, sourceTimestamp: 1 }), true, 'evicted');
    assert.equal(d.accept('a', { value: 3, statusCode: 0, sourceTimestamp: 3 }), false);
  });
});
