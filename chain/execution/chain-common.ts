/**
 * The ethereumjs `Common` of an EMPoS chain: mainnet rules at the Cancun hardfork (PUSH0, MCOPY,
 * transient storage, EIP-1559 fees), our chain id, and native secp256k1 through `customCrypto`.
 * Blob transactions are refused at the mempool (there is no blob market on this chain) and the
 * EIP-4788 beacon-roots system contract is not deployed (`parentBeaconBlockRoot` is zero).
 */
import { Hardfork, Mainnet, createCustomCommon, type Common } from '@ethereumjs/common';
import { chainCrypto } from './crypto.ts';

export const CHAIN_HARDFORK = Hardfork.Cancun;

export function createChainCommon(chainId: bigint, nativeCrypto = true): Common {
  return createCustomCommon({ chainId: Number(chainId), name: 'empos' }, Mainnet, {
    hardfork: CHAIN_HARDFORK,
    customCrypto: chainCrypto(nativeCrypto),
  });
}
