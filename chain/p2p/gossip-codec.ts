/**
 * Wire codec of the EMPoS validator network: the gossip messages (proposals, votes, commits,
 * transactions) and finality certificates, as RLP. Pure and synchronous; decoding is bounded (size
 * limits per message, field types and lengths checked) and throws `FRAME_TOO_LONG` / `FRAME_MALFORMED`
 * on anything else — the network layer turns that into a rejected message and a peer penalty.
 *
 *   certificate  = [number, blockHash(32), round, [[validator(20), signature(65)], …]]   (sorted by validator)
 *   proposal     = [chainId, height, round, validRound + 1, blockRlp, builderSignature(65),
 *                   parentCertificate | "" , signature(65)]
 *                  signature by proposer(height, round) over
 *                  keccak256("EMPoS/proposal-msg/v1" ‖ chainId ‖ height ‖ round ‖ validRound + 1 ‖ blockHash)
 *                  builderSignature by the block's coinbase over proposalDigest (certificate.ts), kept in the seal
 *   vote         = [chainId, kind (1 prevote | 2 precommit), height, round, blockHash(32) | "" (nil),
 *                  validator(20), signature(65)]
 *                  precommit signature over voteDigest (certificate.ts, the one certificates carry);
 *                  prevote over keccak256("EMPoS/prevote/v1" ‖ chainId ‖ height ‖ round ‖ blockHash)
 *   commit       = [chainId, certificate]                                   (announces a final block)
 *   transactions = [rawTx, …]: 1 to 1,000 raw signed transactions (EIP-2718), ≤ 128 KiB each, ≤ 1 MiB in all
 *                  (a node gossips what it admitted in one turn of its event loop as one message: one
 *                  gossipsub signature per batch instead of per transaction)
 * Integers are RLP big-endian without leading zeros (32-byte words inside digests).
 */
import { RLP } from '@ethereumjs/rlp';
import { bytesToHex, concatBytes, hexToBytes, type PrefixedHexString } from '@ethereumjs/util';
import { EnergyMeshError } from '../../core/errors.ts';
import { u256, voteDigest, type FinalityCertificate } from '../consensus/certificate.ts';
import { keccak256 } from '../execution/crypto.ts';

export const MAX_PROPOSAL_BYTES = 4 * 1024 * 1024;
export const MAX_VOTE_BYTES = 256;
export const MAX_COMMIT_BYTES = 256 * 1024;
export const MAX_TX_MESSAGE_BYTES = 128 * 1024;
/** Most transactions in one gossip message, and the message's size limit. */
export const MAX_TX_BATCH = 1000;
export const MAX_TX_BATCH_BYTES = 1024 * 1024;
/** Most votes a certificate may carry (the active-set cap of the design). */
export const MAX_CERTIFICATE_VOTES = 1000;
/** Highest round number accepted on the wire. */
export const MAX_ROUND = 1_000_000;

/** The block hash of a nil vote (no block / timeout). */
export const NIL_HASH = `0x${'00'.repeat(32)}`;

export type VoteKind = 'prevote' | 'precommit';

export interface VoteMessage {
  chainId: bigint;
  kind: VoteKind;
  height: bigint;
  round: number;
  /** NIL_HASH for nil. */
  blockHash: string;
  validator: string;
  signature: string;
}

export interface ProposalMessage {
  chainId: bigint;
  height: bigint;
  round: number;
  /** The round in which this block got a polka (≥ 2/3 prevotes) before, or −1. */
  validRound: number;
  block: Uint8Array;
  /** The block builder's (coinbase's) signature over proposalDigest(chainId, height, hash). */
  builderSignature: string;
  /** The certificate of height − 1 that the block's extraData commits to (absent for height 1). */
  parentCertificate: FinalityCertificate | undefined;
  signature: string;
}

export interface CommitMessage {
  chainId: bigint;
  certificate: FinalityCertificate;
}

const enc = new TextEncoder();

function malformed(what: string): EnergyMeshError {
  return new EnergyMeshError('FRAME_MALFORMED', `malformed message: ${what}`);
}

export function prevoteDigest(chainId: bigint, height: bigint, round: number, blockHash: string): Uint8Array {
  return keccak256(concatBytes(enc.encode('EMPoS/prevote/v1'), u256(chainId), u256(height), u256(BigInt(round)), hexToBytes(blockHash as PrefixedHexString)));
}

/** The digest a vote of `kind` signs (precommits use certificate.ts' voteDigest). */
export function voteMessageDigest(v: Pick<VoteMessage, 'chainId' | 'kind' | 'height' | 'round' | 'blockHash'>): Uint8Array {
  return v.kind === 'precommit' ? voteDigest(v.chainId, v.height, v.round, v.blockHash) : prevoteDigest(v.chainId, v.height, v.round, v.blockHash);
}

export function proposalMessageDigest(chainId: bigint, height: bigint, round: number, validRound: number, blockHash: string): Uint8Array {
  return keccak256(
    concatBytes(enc.encode('EMPoS/proposal-msg/v1'), u256(chainId), u256(height), u256(BigInt(round)), u256(BigInt(validRound + 1)), hexToBytes(blockHash as PrefixedHexString)),
  );
}

// ---------------------------------------------------------------------------------------------
// primitive field readers

type Rlp = Uint8Array | Rlp[];

function bytes(x: Rlp | undefined, what: string, len?: number, max?: number): Uint8Array {
  if (!(x instanceof Uint8Array)) throw malformed(`${what} is not a byte string`);
  if (len !== undefined && x.length !== len) throw malformed(`${what} must be ${len} bytes`);
  if (max !== undefined && x.length > max) throw malformed(`${what} longer than ${max} bytes`);
  return x;
}

function uint(x: Rlp | undefined, what: string, maxBytes = 32): bigint {
  const b = bytes(x, what, undefined, maxBytes);
  if (b.length > 0 && b[0] === 0) throw malformed(`${what} has leading zeros`);
  return b.length === 0 ? 0n : BigInt(bytesToHex(b));
}

function small(x: Rlp | undefined, what: string, max: number): number {
  const n = uint(x, what, 8);
  if (n > BigInt(max)) throw malformed(`${what} out of range`);
  return Number(n);
}

function list(x: Rlp | undefined, what: string, len?: number): Rlp[] {
  if (!Array.isArray(x)) throw malformed(`${what} is not a list`);
  if (len !== undefined && x.length !== len) throw malformed(`${what} must have ${len} items`);
  return x;
}

function decodeRlp(data: Uint8Array, max: number, what: string): Rlp {
  if (data.length > max) throw new EnergyMeshError('FRAME_TOO_LONG', `${what} of ${data.length} bytes exceeds ${max}`, { details: { size: data.length, max } });
  try {
    return RLP.decode(data) as Rlp;
  } catch (e) {
    throw new EnergyMeshError('FRAME_MALFORMED', `${what}: invalid RLP`, { cause: e });
  }
}

const int = (n: bigint | number): Uint8Array => {
  const b = BigInt(n);
  if (b < 0n) throw new RangeError('negative integer');
  if (b === 0n) return new Uint8Array();
  const h = b.toString(16);
  return hexToBytes(`0x${h.length % 2 === 1 ? `0${h}` : h}`);
};
const hb = (h: string): Uint8Array => hexToBytes(h as PrefixedHexString);
const lower = (b: Uint8Array): string => bytesToHex(b).toLowerCase();

// ---------------------------------------------------------------------------------------------
// certificate

function certificateItems(c: FinalityCertificate): Rlp {
  const votes = [...c.votes].sort((a, b) => a.validator.toLowerCase().localeCompare(b.validator.toLowerCase()));
  return [int(c.number), hb(c.blockHash), int(c.round), votes.map((v) => [hb(v.validator), hb(v.signature)])];
}

/** Canonical bytes of a certificate (votes sorted by validator): the commitment in the child's extraData hashes these. */
export function encodeCertificate(c: FinalityCertificate): Uint8Array {
  return RLP.encode(certificateItems(c) as Uint8Array[]);
}

function certificateFrom(x: Rlp): FinalityCertificate {
  const [n, h, r, vs] = list(x, 'certificate', 4);
  const votesRaw = list(vs, 'certificate votes');
  if (votesRaw.length > MAX_CERTIFICATE_VOTES) throw malformed('too many votes in a certificate');
  return {
    number: uint(n, 'certificate number', 8),
    blockHash: lower(bytes(h, 'certificate hash', 32)),
    round: small(r, 'certificate round', MAX_ROUND),
    votes: votesRaw.map((v) => {
      const [a, s] = list(v, 'vote', 2);
      return { validator: lower(bytes(a, 'validator', 20)), signature: lower(bytes(s, 'signature', 65)) };
    }),
  };
}

export function decodeCertificate(data: Uint8Array): FinalityCertificate {
  return certificateFrom(decodeRlp(data, MAX_COMMIT_BYTES, 'certificate'));
}

/** The 32-byte header extraData committing to the parent's certificate. */
export function certificateCommitment(c: FinalityCertificate): Uint8Array {
  return keccak256(encodeCertificate(c));
}

// ---------------------------------------------------------------------------------------------
// votes

const KIND_CODE: Record<VoteKind, number> = { prevote: 1, precommit: 2 };

export function encodeVote(v: VoteMessage): Uint8Array {
  return RLP.encode([int(v.chainId), int(KIND_CODE[v.kind]), int(v.height), int(v.round), v.blockHash === NIL_HASH ? new Uint8Array() : hb(v.blockHash), hb(v.validator), hb(v.signature)]);
}

export function decodeVote(data: Uint8Array): VoteMessage {
  const [c, k, h, r, bh, a, s] = list(decodeRlp(data, MAX_VOTE_BYTES, 'vote'), 'vote', 7);
  const kind = small(k, 'vote kind', 2);
  if (kind !== 1 && kind !== 2) throw malformed('unknown vote kind');
  const hash = bytes(bh, 'vote block hash');
  if (hash.length !== 0 && hash.length !== 32) throw malformed('vote block hash must be 32 bytes or empty');
  const blockHash = hash.length === 0 ? NIL_HASH : lower(hash);
  if (hash.length === 32 && blockHash === NIL_HASH) throw malformed('nil vote must be encoded empty');
  return {
    chainId: uint(c, 'chain id', 8),
    kind: kind === 1 ? 'prevote' : 'precommit',
    height: uint(h, 'height', 8),
    round: small(r, 'round', MAX_ROUND),
    blockHash,
    validator: lower(bytes(a, 'validator', 20)),
    signature: lower(bytes(s, 'signature', 65)),
  };
}

// ---------------------------------------------------------------------------------------------
// proposals

export function encodeProposal(p: ProposalMessage): Uint8Array {
  return RLP.encode([
    int(p.chainId),
    int(p.height),
    int(p.round),
    int(p.validRound + 1),
    p.block,
    hb(p.builderSignature),
    p.parentCertificate === undefined ? new Uint8Array() : encodeCertificate(p.parentCertificate),
    hb(p.signature),
  ]);
}

export function decodeProposal(data: Uint8Array): ProposalMessage {
  const [c, h, r, vr, b, bs, pc, s] = list(decodeRlp(data, MAX_PROPOSAL_BYTES, 'proposal'), 'proposal', 8);
  const round = small(r, 'round', MAX_ROUND);
  const validRound = small(vr, 'valid round', MAX_ROUND) - 1;
  if (validRound >= round) throw malformed('valid round must be before the round');
  const pcBytes = bytes(pc, 'parent certificate', undefined, MAX_COMMIT_BYTES);
  return {
    chainId: uint(c, 'chain id', 8),
    height: uint(h, 'height', 8),
    round,
    validRound,
    block: bytes(b, 'block', undefined, MAX_PROPOSAL_BYTES),
    builderSignature: lower(bytes(bs, 'builder signature', 65)),
    parentCertificate: pcBytes.length === 0 ? undefined : decodeCertificate(pcBytes),
    signature: lower(bytes(s, 'signature', 65)),
  };
}

// ---------------------------------------------------------------------------------------------
// commits

export function encodeCommit(m: CommitMessage): Uint8Array {
  return RLP.encode([int(m.chainId), certificateItems(m.certificate)] as Uint8Array[]);
}

export function decodeCommit(data: Uint8Array): CommitMessage {
  const [c, cert] = list(decodeRlp(data, MAX_COMMIT_BYTES, 'commit'), 'commit', 2);
  return { chainId: uint(c, 'chain id', 8), certificate: certificateFrom(cert!) };
}

// ---------------------------------------------------------------------------------------------
// transactions

/** A batch of raw transactions as one gossip message (sizes as `decodeTransactions` accepts). */
export function encodeTransactions(raws: readonly Uint8Array[]): Uint8Array {
  return RLP.encode(raws as Uint8Array[]);
}

export function decodeTransactions(data: Uint8Array): Uint8Array[] {
  const items = list(decodeRlp(data, MAX_TX_BATCH_BYTES, 'transactions'), 'transactions');
  if (items.length === 0) throw malformed('an empty transaction batch');
  if (items.length > MAX_TX_BATCH) throw new EnergyMeshError('FRAME_TOO_LONG', `${items.length} transactions in one message exceed ${MAX_TX_BATCH}`);
  return items.map((x, i) => {
    const raw = bytes(x, `transaction ${i}`, undefined, MAX_TX_MESSAGE_BYTES);
    if (raw.length === 0) throw malformed(`transaction ${i} is empty`);
    return raw;
  });
}

/**
 * The hash of the block whose RLP is `blockRlp` — keccak256 of its header's RLP, without decoding the
 * transactions (a gossip validator checks a proposal's signature over it before anything expensive).
 */
export function blockHashOfRlp(blockRlp: Uint8Array): string {
  const block = list(decodeRlp(blockRlp, MAX_PROPOSAL_BYTES, 'block'), 'block');
  const header = list(block[0], 'block header');
  return bytesToHex(keccak256(RLP.encode(header as Uint8Array[])));
}
