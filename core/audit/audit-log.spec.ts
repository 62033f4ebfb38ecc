import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEnergyMeshError } from '../errors.ts';
import { AuditLog, GENESIS_HASH, verifyAuditText } from './audit-log.ts';
import type { AuditHead } from './audit-log.ts';
import { canonicalJson } from './canonical-json.ts';

describe('audit log', () => {
  let dir: string;
  let now: number;
  const clock = (): number => now;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'em-audit-'));
    now = Date.UTC(2026, 10, 24, 6, 0, 0);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function smallLog(n = 4): AuditLog {
    const log = new AuditLog({ dir, clock });
    for (let i = 0; i < n; i++) {
      now += 1000;
      log.append({ type: 'compliance.toggle', actor: `officer-${i}`, action: i % 2 ? 'disable' : 'enable', target: 'eu-gdpr', reason: `ticket CHG-${i} «ü»`, details: { at: now, n: i } });
    }
    return log;
  }

  it('chains records: seq from 1, prev is the hash before, canonical lines, head file', () => {
    const log = smallLog(3);
    const lines = readFileSync(log.file, 'utf8').split('\n');
    assert.equal(lines.length, 4);
    assert.equal(lines[3], '');
    const recs = log.readAll();
    assert.deepEqual(recs.map((r) => r.seq), [1, 2, 3]);
    assert.equal(recs[0]?.prev, GENESIS_HASH);
    assert.equal(recs[1]?.prev, recs[0]?.hash);
    assert.equal(recs[2]?.prev, recs[1]?.hash);
    assert.equal(lines[0], canonicalJson(recs[0]));
    assert.equal(recs[0]?.actor, 'officer-0');
    assert.equal(recs[0]?.reason, 'ticket CHG-0 «ü»');
    assert.equal(recs[0]?.at, new Date(Date.UTC(2026, 10, 24, 6, 0, 1)).toISOString());
    const head = JSON.parse(readFileSync(log.headFile, 'utf8')) as AuditHead;
    assert.equal(head.seq, 3);
    assert.equal(head.hash, recs[2]?.hash);
    assert.deepEqual(log.verify(), { ok: true, records: 3, head: { seq: 3, hash: recs[2]?.hash, at: head.at } });
  });

  it('continues the chain across instances (a restart or a second writer)', () => {
    const a = smallLog(2);
    const b = new AuditLog({ dir, clock });
    b.append({ type: 'command', actor: 'op', action: 'execute', target: 'dev/pt' });
    a.append({ type: 'command', actor: 'op', action: 'execute', target: 'dev/pt2' });
    const v = a.verify();
    assert.equal(v.ok, true);
    assert.equal(v.records, 4);
  });

  it('detects every single flipped byte of the log and names the record', () => {
    const log = smallLog(4);
    const original = readFileSync(log.file);
    const starts: number[] = [0];
    for (let i = 0; i < original.length; i++) if (original[i] === 0x0a && i + 1 < original.length) starts.push(i + 1);
    const recordOf = (pos: number): number => starts.filter((s) => s <= pos).length;
    const head = JSON.parse(readFileSync(log.headFile, 'utf8')) as AuditHead;
    for (const mask of [0x01, 0x20, 0x80]) {
      for (let i = 0; i < original.length; i++) {
        const copy = Buffer.from(original);
        copy[i] = (copy[i] as number) ^ mask;
        const v = verifyAuditText(copy.toString('utf8'), head);
        assert.equal(v.ok, false, `flip 0x${mask.toString(16)} at byte ${i} was not detected`);
        if (!v.ok) {
          // a record's newline belongs to it: a flipped one merges it with the next, which fails to parse
          assert.equal(v.badRecord, recordOf(i), `byte ${i}: ${v.reason}`);
        }
      }
    }
    // and through the file, the way `audit verify` reads it
    const copy = Buffer.from(original);
    copy[starts[2] as number + 10] = (copy[starts[2] as number + 10] as number) ^ 0x01;
    writeFileSync(log.file, copy);
    const v = log.verify();
    assert.equal(v.ok, false);
    if (!v.ok) assert.equal(v.badRecord, 3);
  });

  it('detects a deleted, an inserted and a reordered record, and a truncated tail', () => {
    const log = smallLog(5);
    const text = readFileSync(log.file, 'utf8');
    const lines = text.split('\n').slice(0, -1);
    const head = JSON.parse(readFileSync(log.headFile, 'utf8')) as AuditHead;
    const join_ = (ls: string[]): string => ls.map((l) => `${l}\n`).join('');

    const deleted = verifyAuditText(join_([...lines.slice(0, 2), ...lines.slice(3)]), head);
    assert.equal(deleted.ok, false);
    if (!deleted.ok) {
      assert.equal(deleted.badRecord, 3);
      assert.match(deleted.reason, /deleted, inserted or moved/);
    }

    const inserted = verifyAuditText(join_([...lines.slice(0, 2), lines[1] as string, ...lines.slice(2)]), head);
    assert.equal(inserted.ok, false);
    if (!inserted.ok) assert.equal(inserted.badRecord, 3);

    const reordered = verifyAuditText(join_([lines[0] as string, lines[2] as string, lines[1] as string, ...lines.slice(3)]), head);
    assert.equal(reordered.ok, false);
    if (!reordered.ok) assert.equal(reordered.badRecord, 2);

    // whole records cut off: caught by the head
    const cut = verifyAuditText(join_(lines.slice(0, 3)), head);
    assert.equal(cut.ok, false);
    if (!cut.ok) {
      assert.equal(cut.badRecord, 4);
      assert.match(cut.reason, /ends at record 3 but its head says 5/);
    }
    // cut mid-record
    const torn = verifyAuditText(text.slice(0, text.length - 20), head);
    assert.equal(torn.ok, false);
    if (!torn.ok) {
      assert.equal(torn.badRecord, 5);
      assert.match(torn.reason, /truncated/);
    }
    // a record rewritten with a recomputed hash still breaks the next record's link
    const forged = JSON.parse(lines[1] as string) as Record<string, unknown>;
    forged.reason = 'nothing to see';
    const { hash: _h, ...body } = forged;
    void _h;
    const rehashed = { ...body, hash: 'f'.repeat(64) };
    const v = verifyAuditText(join_([lines[0] as string, canonicalJson(rehashed), ...lines.slice(2)]), head);
    assert.equal(v.ok, false);
    if (!v.ok) assert.equal(v.badRecord, 2);
  });

  it('exports a period with the link before it, and refuses a bad period', () => {
    const log = smallLog(4);
    const all = log.readAll();
    const from = Date.parse(all[1]?.at as string);
    const to = Date.parse(all[3]?.at as string);
    const x = log.export(from, to);
    assert.deepEqual(x.records.map((r) => r.seq), [2, 3]);
    assert.equal(x.prevHash, all[0]?.hash);
    assert.equal(x.verification.ok, true);
    assert.throws(() => log.export(to, from), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT'));
  });

  it('hands the head to the anchor hook every N records and logs the receipt', async () => {
    const heads: AuditHead[] = [];
    const log = new AuditLog({
      dir,
      clock,
      anchor: {
        everyRecords: 2,
        onAnchor: (h) => {
          heads.push(h);
          return `0xreceipt${h.seq}`;
        },
      },
    });
    log.append({ type: 'command', actor: 'a', action: 'x' });
    log.append({ type: 'command', actor: 'a', action: 'y' });
    await log.anchorNow(); // waits for the pending anchor too
    assert.equal(heads[0]?.seq, 2);
    const recs = log.readAll();
    const anchors = recs.filter((r) => r.type === 'audit.anchor');
    assert.ok(anchors.length >= 1);
    assert.equal(anchors[0]?.details?.receipt, '0xreceipt2');
    assert.equal(anchors[0]?.details?.hash, recs[1]?.hash);
    assert.equal(log.verify().ok, true);
  });

  it('refuses an entry without actor or action', () => {
    const log = new AuditLog({ dir, clock });
    assert.throws(() => log.append({ type: 'command', actor: '', action: 'x' }), (e: unknown) => isEnergyMeshError(e, 'INVALID_ARGUMENT'));
  });
});
