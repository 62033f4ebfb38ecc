#!/usr/bin/env bash
# A 4-validator EMPoS network on loopback: writes a genesis and 4 encrypted validator keystores into a
# data folder (default: a new temp folder), starts 4 `energymesh chain node` processes (JSON-RPC on
# 127.0.0.1:8545..8548, p2p on 30303..30306) and stops them all on Ctrl-C.
#   examples/chain/run-4-nodes.sh [DATA_DIR]       BLOCK_TIME_MS=1000 by default
# VALIDATORS="1 2 3" starts only those (validator 0 then runs inside EnergyMesh: energymesh-validator.yaml).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${1:-$(mktemp -d -t empos-4-nodes-XXXX)}"
BLOCK_TIME_MS="${BLOCK_TIME_MS:-1000}"
VALIDATORS="${VALIDATORS:-0 1 2 3}"
CLI=(node --import tsx "$ROOT/chain/cli/chain-main.ts")
cd "$ROOT"
if [ ! -f "$DIR/genesis.json" ]; then
  # a random password in a 0600 file; the keystores are scrypt-encrypted with it
  umask 077
  mkdir -p "$DIR"
  head -c 24 /dev/urandom | base64 > "$DIR/password.txt"
  "${CLI[@]}" init --out "$DIR" --validators 4 --block-time-ms "$BLOCK_TIME_MS" --base-p2p-port 30303 --password-file "$DIR/password.txt"
fi
PEERS=$(paste -sd, "$DIR/peers.txt")
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait' EXIT INT TERM
for i in $VALIDATORS; do
  "${CLI[@]}" node --genesis "$DIR/genesis.json" --key "$DIR/validator-$i.keystore.json" --password-file "$DIR/password.txt" \
    --data "$DIR/data-$i" --rpc-port $((8545 + i)) --p2p-port $((30303 + i)) --peers "$PEERS" \
    > "$DIR/node-$i.out" 2> "$DIR/node-$i.log" &
  PIDS+=($!)
done
echo "data in $DIR; logs in $DIR/node-*.log; JSON-RPC on http://127.0.0.1:8545..8548"
echo "status:     node --import tsx chain/cli/chain-main.ts status --rpc http://127.0.0.1:8545"
echo "validators: node --import tsx chain/cli/chain-main.ts validators --rpc http://127.0.0.1:8545"
wait
