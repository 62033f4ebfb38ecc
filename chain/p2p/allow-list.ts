/**
 * The peer allow-list of a permissioned validator network (`P2pNetwork`'s `allowPeers`, the CLI's
 * `--allow-peers`): the node keeps connections only with the listed peer ids (plus those of its
 * `--peers` multiaddrs) and learns no other peer from discovery.
 *
 * This file holds the pure parts: the argument grammar, the id check and the refusal log.
 *
 *   argument = id *("," id)          a comma-separated list (spaces around ids ignored)
 *            / "@" path              a file: one id per line; "#" starts a comment; blank lines ignored
 *   id       = a libp2p peer id as printed by `energymesh chain init` (base58btc `12D3Koo…` / `Qm…`,
 *              or the CIDv1 forms `bafz…` / `k51…`), compared in its canonical base58btc form
 *
 * Error policy: a malformed id or an argument that names no id throws `CONFIG_INVALID` naming it (and
 * the file line); the refusal log never throws.
 */
import { peerIdFromString } from '@libp2p/peer-id';
import { EnergyMeshError } from '../../core/errors.ts';

/** The ids of an allow-list file's text: one per line, `#` comments, blank lines ignored (unchecked). */
export function parsePeerIdFile(text: string): { id: string; line: number }[] {
  const out: { id: string; line: number }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const hash = raw.indexOf('#');
    const id = (hash < 0 ? raw : raw.slice(0, hash)).trim();
    if (id !== '') out.push({ id, line: i + 1 });
  });
  return out;
}

/** A peer id in its canonical form; throws `CONFIG_INVALID` naming `id` (and `where`) if it is not one. */
export function canonicalPeerId(id: string, where = ''): string {
  try {
    return peerIdFromString(id).toString();
  } catch (e) {
    throw new EnergyMeshError('CONFIG_INVALID', `allow-list: invalid peer id "${id}"${where}`, { details: { peerId: id }, cause: e });
  }
}

/** Checks a list of peer ids; returns their canonical forms. Throws `CONFIG_INVALID` naming the first bad one. */
export function checkPeerIds(ids: readonly string[]): string[] {
  return ids.map((id) => canonicalPeerId(id));
}

/**
 * The CLI's `--allow-peers` argument (`id,id,…` or `@file`) as checked, canonical peer ids; `readText`
 * reads the file (injected so the parsing is testable without one). At least one id is required: an
 * empty list would silently open a permissioned node.
 */
export function parseAllowPeersArg(arg: string, readText: (path: string) => string): string[] {
  const spec = arg.trim();
  let ids: string[];
  if (spec.startsWith('@')) {
    const path = spec.slice(1);
    if (path === '') throw new EnergyMeshError('CONFIG_INVALID', '--allow-peers @FILE: no file name');
    let text: string;
    try {
      text = readText(path);
    } catch (e) {
      throw new EnergyMeshError('CONFIG_INVALID', `--allow-peers: cannot read ${path}`, { cause: e });
    }
    ids = parsePeerIdFile(text).map(({ id, line }) => canonicalPeerId(id, ` (${path} line ${line})`));
  } else {
    ids = checkPeerIds(
      spec
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    );
  }
  if (ids.length === 0) throw new EnergyMeshError('CONFIG_INVALID', `--allow-peers ${arg}: names no peer id`);
  return [...new Set(ids)];
}

export type RefusalKind = 'inbound connection' | 'outbound connection' | 'dial' | 'announcement';

export interface RefusalLogOptions {
  /** A refused peer id is logged again (with the refusals since) at most this often (default 10 min). */
  repeatMs?: number;
  /** Most log lines per minute over all peers (default 10); the rest are counted and summarised. */
  linesPerMinute?: number;
  /** Most peer ids remembered (default 1,024); the oldest is forgotten first. */
  maxPeers?: number;
  now?: () => number;
}

/**
 * Logs refused peers: once per peer id (again after `repeatMs` with the count since), at most
 * `linesPerMinute` lines in all, so a peer cycling through fresh ids cannot flood the log. Never throws.
 */
export class RefusalLog {
  private readonly seen = new Map<string, { loggedAt: number; since: number }>();
  private readonly repeatMs: number;
  private readonly linesPerMinute: number;
  private readonly maxPeers: number;
  private readonly now: () => number;
  private windowStart = 0;
  private windowLines = 0;
  /** Refusals of new or due peers not logged because of the line budget. */
  private suppressed = 0;

  constructor(
    private readonly log: (msg: string) => void,
    o: RefusalLogOptions = {},
  ) {
    this.repeatMs = o.repeatMs ?? 10 * 60_000;
    this.linesPerMinute = o.linesPerMinute ?? 10;
    this.maxPeers = o.maxPeers ?? 1024;
    this.now = o.now ?? Date.now;
  }

  refused(peerId: string, kind: RefusalKind): void {
    try {
      const now = this.now();
      const s = this.seen.get(peerId);
      if (s !== undefined && now - s.loggedAt < this.repeatMs) {
        s.since++;
        return;
      }
      if (now - this.windowStart >= 60_000) {
        this.windowStart = now;
        this.windowLines = 0;
      }
      if (this.windowLines >= this.linesPerMinute) {
        this.suppressed++;
        return;
      }
      this.windowLines++;
      const again = s !== undefined && s.since > 0 ? ` (${s.since} more refusals since last logged)` : '';
      const dropped = this.suppressed > 0 ? `; ${this.suppressed} other refusals not logged (rate limit)` : '';
      this.suppressed = 0;
      this.seen.delete(peerId);
      this.seen.set(peerId, { loggedAt: now, since: 0 });
      if (this.seen.size > this.maxPeers) {
        const oldest = this.seen.keys().next().value;
        if (oldest !== undefined) this.seen.delete(oldest);
      }
      this.log(`refused peer ${peerId}: not on the allow-list (${kind})${again}${dropped}`);
    } catch {
      /* logging must never break the connection gater */
    }
  }
}
