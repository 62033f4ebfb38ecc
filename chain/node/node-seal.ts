/**
 * The seal the validator network stores with each block: the builder's (coinbase's) proposal signature,
 * the block's own finality certificate (the precommits this node committed it with — any ≥ 2/3 set is
 * valid, so nodes may hold different ones) and the parent's certificate that the block's header
 * commits to (`extraData = keccak256(encodeCertificate(parentCertificate))`), which is the same on every
 * node and so is what `signersOf` reads. JSON, a superset of `encodeSeal` (certificate.ts), so
 * `decodeSeal` and `empos_certificate` read it unchanged.
 */
import type { BlockSeal, FinalityCertificate } from '../consensus/certificate.ts';

export interface NetworkSeal extends BlockSeal {
  parentCertificate?: FinalityCertificate;
}

type Raw = Omit<FinalityCertificate, 'number'> & { number: string };

const toRaw = (c: FinalityCertificate): Raw => ({ ...c, number: c.number.toString() });
const fromRaw = (c: Raw): FinalityCertificate => ({ ...c, number: BigInt(c.number) });

export function encodeNetworkSeal(seal: NetworkSeal): Uint8Array {
  const { parentCertificate, certificate, ...rest } = seal;
  return new TextEncoder().encode(
    JSON.stringify({ ...rest, certificate: toRaw(certificate), ...(parentCertificate !== undefined ? { parentCertificate: toRaw(parentCertificate) } : {}) }),
  );
}

/** Throws on anything that is not a seal (callers treat it as an invalid block). */
export function decodeNetworkSeal(bytes: Uint8Array): NetworkSeal {
  if (bytes.length > 512 * 1024) throw new RangeError('seal too large');
  const raw = JSON.parse(new TextDecoder().decode(bytes)) as { proposer: unknown; proposerSignature: unknown; certificate: Raw; parentCertificate?: Raw };
  if (typeof raw.proposer !== 'string' || typeof raw.proposerSignature !== 'string' || typeof raw.certificate !== 'object' || raw.certificate === null) {
    throw new TypeError('not a seal');
  }
  const check = (c: Raw): FinalityCertificate => {
    if (typeof c.number !== 'string' || typeof c.blockHash !== 'string' || typeof c.round !== 'number' || !Array.isArray(c.votes)) throw new TypeError('bad certificate');
    for (const v of c.votes) if (typeof v?.validator !== 'string' || typeof v?.signature !== 'string') throw new TypeError('bad vote');
    return fromRaw(c);
  };
  return {
    proposer: raw.proposer,
    proposerSignature: raw.proposerSignature,
    certificate: check(raw.certificate),
    ...(raw.parentCertificate !== undefined ? { parentCertificate: check(raw.parentCertificate) } : {}),
  };
}
