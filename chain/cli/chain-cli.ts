/**
 * `energymesh chain …` — set up and run an EMPoS validator network:
 *   chain init --validators N --out DIR     genesis.json + encrypted validator keystores + peers.txt
 *   chain node --genesis FILE --key KEYSTORE --data DIR [--password-file F] [--rpc-port P] [--p2p-port P] [--peers A,B]
 *              [--allow-peers ID,ID|@FILE]    (a permissioned network: only these peers are kept connected)
 *   chain status [--rpc URL]                head, finalized, round, block time (and its source), peers
 *   chain validators [--rpc URL]            the validator set and stakes
 *   chain stake | unstake | withdraw | claim-fees | propose | propose-slash | vote   (staking-commands.ts)
 * Keys are read from keystores (Ethereum V3, scrypt) and never printed or logged; passwords come from a
 * file (or are empty, for local test networks only).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { errorMessage } from '../../core/errors.ts';
import type { GenesisFile } from '../execution/genesis.ts';
import { addStakingCommands } from './staking-commands.ts';

// The chain stack (ethereumjs, libp2p) loads only when a chain command runs, so `energymesh start`
// and the other commands do not pay for it.
const WEI_PER_EB = 10n ** 18n;
const DEFAULT_CHAIN_ID = 0x454d;

export interface ChainCliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const stdio: ChainCliIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };

function readPassword(file: string | undefined): string {
  if (file === undefined) return '';
  return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
}

async function rpcCall(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error !== undefined) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

export interface InitOptions {
  validators: number;
  out: string;
  chainId?: number;
  blockTimeMs?: number;
  password?: string;
  host?: string;
  basePort?: number;
  /** Explicit p2p port of each validator (overrides basePort). */
  ports?: readonly number[];
  /** scrypt N of the keystores (default 2^15; tests use less). */
  scryptN?: number;
}

/** Writes genesis.json, validator-<i>.keystore.json and peers.txt into `out`; returns the peer multiaddrs. */
export async function initNetwork(o: InitOptions): Promise<{ genesisFile: string; keystores: string[]; peers: string[]; addresses: string[] }> {
  const { computeAddress, hexlify } = await import('ethers');
  const { writeKeystore } = await import('../node/keystore.ts');
  const { peerIdOf, peerKeyFromValidatorKey } = await import('../p2p/peer-key.ts');
  mkdirSync(o.out, { recursive: true });
  const keystores: string[] = [];
  const peers: string[] = [];
  const addresses: string[] = [];
  const host = o.host ?? '127.0.0.1';
  const basePort = o.basePort ?? 30303;
  for (let i = 0; i < o.validators; i++) {
    const key = hexlify(randomBytes(32));
    const file = join(o.out, `validator-${i}.keystore.json`);
    writeKeystore(file, key, o.password ?? '', o.scryptN);
    keystores.push(file);
    addresses.push(computeAddress(key).toLowerCase());
    peers.push(`/ip4/${host}/tcp/${o.ports?.[i] ?? basePort + i}/p2p/${peerIdOf(await peerKeyFromValidatorKey(key))}`);
  }
  const stake = (32_000n * WEI_PER_EB).toString();
  const genesis: GenesisFile = {
    chainId: o.chainId ?? DEFAULT_CHAIN_ID,
    timestamp: 0,
    alloc: Object.fromEntries(addresses.map((a) => [a, (1_000_000n * WEI_PER_EB).toString()])),
    validators: addresses.map((address) => ({ address, stake })),
    consensus: { blockTimeMs: o.blockTimeMs ?? 1000 },
  };
  const genesisFile = join(o.out, 'genesis.json');
  writeFileSync(genesisFile, `${JSON.stringify(genesis, null, 2)}\n`);
  writeFileSync(join(o.out, 'peers.txt'), `${peers.join('\n')}\n`);
  return { genesisFile, keystores, peers, addresses };
}

/** The `chain` command with its subcommands (registered by core/cli/main.ts). */
export function chainCommand(io: ChainCliIo = stdio): Command {
  const chain = new Command('chain').description('the EMPoS chain: set up and run a validator network');

  chain
    .command('init')
    .description('write genesis.json, encrypted validator keystores and peers.txt for a new network')
    .requiredOption('--out <dir>', 'output folder')
    .option('--validators <n>', 'number of validators', '4')
    .option('--chain-id <id>', 'chain id', String(DEFAULT_CHAIN_ID))
    .option('--block-time-ms <ms>', 'block time', '1000')
    .option('--password-file <file>', 'keystore password (default: empty — local test networks only)')
    .option('--host <ip>', 'host in the peer multiaddrs', '127.0.0.1')
    .option('--base-p2p-port <port>', 'p2p port of validator 0 (validator i uses base + i)', '30303')
    .action(async (opts: { out: string; validators: string; chainId: string; blockTimeMs: string; passwordFile?: string; host: string; baseP2pPort: string }) => {
      const r = await initNetwork({
        validators: Number(opts.validators),
        out: resolve(opts.out),
        chainId: Number(opts.chainId),
        blockTimeMs: Number(opts.blockTimeMs),
        password: readPassword(opts.passwordFile),
        host: opts.host,
        basePort: Number(opts.baseP2pPort),
      });
      io.out(`genesis: ${r.genesisFile}`);
      r.keystores.forEach((k, i) => io.out(`validator ${i}: ${r.addresses[i]} keystore ${k} p2p ${r.peers[i]}`));
      if (opts.passwordFile === undefined) io.err('warning: keystores have an empty password (use --password-file outside test networks)');
    });

  chain
    .command('node')
    .description('run a validator (with --key) or a full node of a network')
    .requiredOption('--genesis <file>', 'genesis.json')
    .requiredOption('--data <dir>', 'data folder (chain store, sign state)')
    .option('--key <keystore>', 'validator keystore (omit for a non-validator full node)')
    .option('--password-file <file>', 'keystore password file (default: empty password)')
    .option('--rpc-host <ip>', 'JSON-RPC host', '127.0.0.1')
    .option('--rpc-port <port>', 'JSON-RPC port (0 = any free port)', '8545')
    .option('--p2p-host <ip>', 'p2p listen host', '127.0.0.1')
    .option('--p2p-port <port>', 'p2p listen port', '30303')
    .option('--peers <list>', 'comma-separated peer multiaddrs (/ip4/…/tcp/…/p2p/<peer id>)', '')
    .option('--no-discovery', 'connect only to the --peers (no peer discovery)')
    .option('--announce <list>', 'comma-separated TCP multiaddrs to announce instead of the listen address (e.g. behind NAT)')
    .option(
      '--allow-peers <ids|@file>',
      'permissioned network: keep connections only with these peer ids (and those of --peers); comma-separated, or @FILE with one id per line (# comments)',
    )
    .option('--block-time-ms <ms>', 'local override of the governed block time (tests and benchmarks only: the network paces by the staking contract\'s blockTimeMs)')
    .option('--round-timeout-ms <ms>', 'base round timeout (default max(block time, 1 s))')
    .action(
      async (opts: {
        genesis: string;
        data: string;
        key?: string;
        passwordFile?: string;
        rpcHost: string;
        rpcPort: string;
        p2pHost: string;
        p2pPort: string;
        peers: string;
        blockTimeMs?: string;
        roundTimeoutMs?: string;
        discovery: boolean;
        announce?: string;
        allowPeers?: string;
      }) => {
        const { readKeystore } = await import('../node/keystore.ts');
        const { NetworkNode } = await import('../node/network-node.ts');
        const { parseAllowPeersArg } = await import('../p2p/allow-list.ts');
        // checked before the keystore is decrypted: a bad id fails fast, naming it
        const allowPeers = opts.allowPeers === undefined ? undefined : parseAllowPeersArg(opts.allowPeers, (f) => readFileSync(resolve(f), 'utf8'));
        const genesis = JSON.parse(readFileSync(opts.genesis, 'utf8')) as GenesisFile;
        const keys = opts.key === undefined ? [] : [readKeystore(opts.key, readPassword(opts.passwordFile))];
        const node = new NetworkNode({
          dataDir: resolve(opts.data),
          genesis,
          validatorKeys: keys,
          rpc: { host: opts.rpcHost, port: Number(opts.rpcPort) },
          p2p: {
            host: opts.p2pHost,
            port: Number(opts.p2pPort),
            peers: opts.peers.split(',').map((s) => s.trim()).filter((s) => s !== ''),
            discovery: opts.discovery,
            ...(opts.announce !== undefined ? { announce: opts.announce.split(',').map((s) => s.trim()).filter((s) => s !== '') } : {}),
            ...(allowPeers !== undefined ? { allowPeers } : {}),
          },
          ...(opts.blockTimeMs !== undefined ? { blockTimeMs: Number(opts.blockTimeMs) } : {}),
          ...(opts.roundTimeoutMs !== undefined ? { roundTimeoutBaseMs: Number(opts.roundTimeoutMs) } : {}),
          log: (line) => io.err(JSON.stringify({ time: new Date().toISOString(), msg: line })),
          onEvidence: (e) => io.err(JSON.stringify({ time: new Date().toISOString(), msg: 'equivocation evidence', validator: e.validator, height: e.a.number.toString(), round: e.a.round })),
        });
        await node.start();
        io.out(
          JSON.stringify({
            ready: true,
            rpc: node.rpcUrl,
            ws: node.wsUrl,
            peerId: node.network.peerId,
            p2p: node.network.addresses,
            validators: node.validatorAddresses,
            head: node.chain.head.header.number.toString(),
          }),
        );
        await new Promise<void>((done) => {
          const stop = (): void => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            done();
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
        await node.stop();
      },
    );

  chain
    .command('status')
    .description("a node's head, finality, consensus round and peers")
    .option('--rpc <url>', 'JSON-RPC URL', 'http://127.0.0.1:8545')
    .action(async (opts: { rpc: string }) => {
      try {
        const [chainId, finality, peers] = await Promise.all([rpcCall(opts.rpc, 'eth_chainId'), rpcCall(opts.rpc, 'empos_finality'), rpcCall(opts.rpc, 'net_peerCount')]);
        const f = finality as { head: string; finalized: string; mode: string; round?: number; step?: string; blockTimeMs?: number; blockTimeSource?: string };
        io.out(
          JSON.stringify({ chainId: Number(chainId), mode: f.mode, head: Number(f.head), finalized: Number(f.finalized), round: f.round ?? 0, step: f.step ?? null, blockTimeMs: f.blockTimeMs ?? null, blockTimeSource: f.blockTimeSource ?? null, peers: Number(peers) }),
        );
      } catch (e) {
        io.err(`chain status: ${errorMessage(e)}`);
        process.exitCode = 1;
      }
    });

  chain
    .command('validators')
    .description('the validator set: address, stake (EB), status')
    .option('--rpc <url>', 'JSON-RPC URL', 'http://127.0.0.1:8545')
    .action(async (opts: { rpc: string }) => {
      try {
        const list = (await rpcCall(opts.rpc, 'empos_validators')) as { address: string; stake: string; status: string; performancePermille: number }[];
        for (const v of list) io.out(`${v.address}  ${(BigInt(v.stake) / WEI_PER_EB).toString()} EB  ${v.status}  performance ${v.performancePermille}‰`);
      } catch (e) {
        io.err(`chain validators: ${errorMessage(e)}`);
        process.exitCode = 1;
      }
    });

  addStakingCommands(chain, io);
  return chain;
}
