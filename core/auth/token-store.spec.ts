import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEnergyMeshError } from '../errors.ts';
import { roleAllows } from './roles.ts';
import { TokenStore } from './token-store.ts';

describe('API tokens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'em-tokens-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a token that authenticates, stores only its hash (mode 0600), and revokes it', () => {
    const file = join(dir, 'tokens.json');
    const store = new TokenStore(file);
    const { token, record } = store.create('ops desk', 'operator');
    assert.match(token, /^em_[a-f0-9]{12}_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(store.authenticate(token), { id: record.id, name: 'ops desk', role: 'operator' });
    const text = readFileSync(file, 'utf8');
    assert.ok(!text.includes(token.split('_')[2] as string), 'the secret is not stored');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const again = new TokenStore(file);
    assert.equal(again.authenticate(token)?.role, 'operator', 'persisted');
    again.revoke(record.id);
    assert.equal(again.authenticate(token), undefined);
    assert.equal(new TokenStore(file).authenticate(token), undefined, 'revocation persisted');
  });

  it('refuses garbled, forged and unknown tokens', () => {
    const store = new TokenStore(join(dir, 't2.json'));
    const { token } = store.create('x', 'viewer');
    assert.equal(store.authenticate(''), undefined);
    assert.equal(store.authenticate('Bearer nonsense'), undefined);
    const forged = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    assert.equal(store.authenticate(forged), undefined);
    assert.equal(store.authenticate(`em_000000000000_${'a'.repeat(43)}`), undefined);
  });

  it('refuses an unknown role', () => {
    const store = new TokenStore(join(dir, 't3.json'));
    assert.throws(() => store.create('x', 'root' as 'admin'), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT'));
  });

  it('separates operator and compliance-officer duties; admin holds all', () => {
    assert.ok(roleAllows('operator', 'viewer'));
    assert.ok(!roleAllows('operator', 'compliance-officer'));
    assert.ok(!roleAllows('compliance-officer', 'operator'));
    assert.ok(!roleAllows('viewer', 'operator'));
    assert.ok(roleAllows('admin', 'compliance-officer') && roleAllows('admin', 'operator') && roleAllows('admin', 'admin'));
  });
});
