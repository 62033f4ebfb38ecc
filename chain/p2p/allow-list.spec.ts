import { strict as assert } from 'node:assert';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { isEnergyMeshError } from '../../core/errors.ts';
import { errorCode } from '../../test/support/error-code.ts';
import { checkPeerIds, parseAllowPeersArg, parsePeerIdFile, RefusalLog } from './allow-list.ts';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    if (e instanceof Error) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('p2p allow-list', () => {
  let a: string;
  let b: string;
  before(async () => {
    a = peerIdFromPrivateKey(await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(1))).toString();
    b = peerIdFromPrivateKey(await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(2))).toString();
  });

  const noFile = (path: string): string => {
    throw new Error(`unexpected read of ${path}`);
  };

  describe('parsePeerIdFile', () => {
    it('one id per line; # comments, blank lines, spaces and CRLF ignored; line numbers kept', () => {
      const text = `# validators of the permissioned network\r\n${a}\r\n\r\n  ${b}   # second node\n   # indented comment\n`;
      assert.deepEqual(parsePeerIdFile(text), [
        { id: a, line: 2 },
        { id: b, line: 4 },
      ]);
      assert.deepEqual(parsePeerIdFile(''), []);
      assert.deepEqual(parsePeerIdFile('#only\n\n'), []);
    });
  });

  describe('parseAllowPeersArg', () => {
    it('a comma-separated list, spaces and empty entries ignored, duplicates dropped', () => {
      assert.deepEqual(parseAllowPeersArg(` ${a} , ${b},,${a}`, noFile), [a, b]);
    });

    it('@file: reads the named file (one id per line, comments)', () => {
      const read: string[] = [];
      const ids = parseAllowPeersArg('@/etc/energymesh/allow.txt', (p) => {
        read.push(p);
        return `# ids\n${a}\n${b} # node 2\n`;
      });
      assert.deepEqual(ids, [a, b]);
      assert.deepEqual(read, ['/etc/energymesh/allow.txt']);
    });

    it('canonicalises ids (the CIDv1 form of an id equals its base58 form)', () => {
      const cid = peerIdFromString(a).toCID().toString();
      assert.ok(cid.startsWith('bafz'), cid);
      assert.deepEqual(parseAllowPeersArg(cid, noFile), [a]);
    });

    it('a malformed id is CONFIG_INVALID naming it (and its file line)', () => {
      for (const bad of ['12D3KooWnotapeerid', 'hello', a.slice(0, -3), `${a}x`, `/ip4/127.0.0.1/tcp/1/p2p/${a}`]) {
        const e = thrown(() => parseAllowPeersArg(`${b},${bad}`, noFile));
        assert.ok(isEnergyMeshError(e, 'CONFIG_INVALID'), String(e));
        assert.ok(e.message.includes(`"${bad}"`), e.message);
      }
      const e = thrown(() => parseAllowPeersArg('@allow.txt', () => `${a}\n# c\nnot-an-id\n`));
      assert.ok(isEnergyMeshError(e, 'CONFIG_INVALID'));
      assert.match(e.message, /"not-an-id" \(allow\.txt line 3\)/);
    });

    it('an argument naming no id, an empty file name and an unreadable file are CONFIG_INVALID', () => {
      assert.equal(errorCode(() => parseAllowPeersArg(' , ', noFile)), 'CONFIG_INVALID');
      assert.equal(errorCode(() => parseAllowPeersArg('@empty.txt', () => '# nobody\n\n')), 'CONFIG_INVALID');
      assert.equal(errorCode(() => parseAllowPeersArg('@', noFile)), 'CONFIG_INVALID');
      const e = thrown(() =>
        parseAllowPeersArg('@missing.txt', () => {
          throw new Error('ENOENT');
        }),
      );
      assert.ok(isEnergyMeshError(e, 'CONFIG_INVALID'));
      assert.match(e.message, /missing\.txt/);
    });
  });

  describe('checkPeerIds', () => {
    it('returns canonical ids; throws CONFIG_INVALID at the first bad one', () => {
      assert.deepEqual(checkPeerIds([a, b]), [a, b]);
      assert.deepEqual(checkPeerIds([]), []);
      assert.equal(errorCode(() => checkPeerIds([a, 'Qm'])), 'CONFIG_INVALID');
    });
  });

  describe('RefusalLog', () => {
    it('logs a peer once, again after repeatMs with the count since', () => {
      let now = 1_000_000;
      const lines: string[] = [];
      const log = new RefusalLog((m) => lines.push(m), { now: () => now, repeatMs: 60_000 });
      log.refused('peerX', 'inbound connection');
      for (let i = 0; i < 5; i++) log.refused('peerX', 'dial');
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /refused peer peerX: not on the allow-list \(inbound connection\)/);
      log.refused('peerY', 'announcement');
      assert.equal(lines.length, 2);
      now += 60_000;
      log.refused('peerX', 'inbound connection');
      assert.equal(lines.length, 3);
      assert.match(lines[2]!, /peerX.*5 more refusals since last logged/);
    });

    it('at most linesPerMinute lines over all peers; the rest summarised in the next line', () => {
      let now = 0;
      const lines: string[] = [];
      const log = new RefusalLog((m) => lines.push(m), { now: () => now, linesPerMinute: 3 });
      for (let i = 0; i < 50; i++) log.refused(`fresh-${i}`, 'inbound connection');
      assert.equal(lines.length, 3);
      now += 60_000;
      log.refused('later', 'inbound connection');
      assert.equal(lines.length, 4);
      assert.match(lines[3]!, /later.*47 other refusals not logged/);
    });

    it('remembers at most maxPeers ids (the oldest is forgotten) and never throws', () => {
      const lines: string[] = [];
      const log = new RefusalLog((m) => lines.push(m), { now: () => 0, maxPeers: 2, linesPerMinute: 100 });
      log.refused('p1', 'dial');
      log.refused('p2', 'dial');
      log.refused('p3', 'dial'); // p1 forgotten
      log.refused('p2', 'dial'); // still remembered: not logged
      log.refused('p1', 'dial'); // logged again
      assert.deepEqual(
        lines.map((l) => /peer (\S+):/.exec(l)?.[1]),
        ['p1', 'p2', 'p3', 'p1'],
      );
      const throwing = new RefusalLog(() => {
        throw new Error('log sink down');
      });
      assert.doesNotThrow(() => throwing.refused('p', 'inbound connection'));
    });
  });
});
