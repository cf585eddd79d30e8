#!/usr/bin/env bash
# make demo: embassy-cp on a temporary data dir, examples/quickstart applied,
# two versions of the echo service and a proxyless gRPC client talking
# through the mesh; prints the traffic split and the proxy status, shifts all
# traffic to v2, and prints the split again. DEMO_KEEP=1 keeps it running.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/bin}
work=$(mktemp -d -t embassy-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Starting embassy-cp (data dir $work/data)"
# The demo's proxyless clients hold no SVID yet, so xDS is plaintext here
# (--insecure-xds, local development only). The secure path (mTLS xDS with
# SVIDs from embassy-agent) arrives with the agent.
echo "note: this demo runs embassy-cp with --insecure-xds; the secure path (agent + SVIDs) arrives with embassy-agent"
"$BIN/embassy-cp" --data-dir "$work/data" --xds-addr 127.0.0.1:0 --api-addr 127.0.0.1:0 --insecure-xds >"$work/cp.out" 2>"$work/cp.log" &
pids+=($!)
for _ in $(seq 1 100); do
  grep -q 'serving xDS on' "$work/cp.out" 2>/dev/null && break
  sleep 0.1
done
if ! grep -q 'serving xDS on' "$work/cp.out"; then
  echo "embassy-cp did not start:"; cat "$work/cp.out" "$work/cp.log"; exit 1
fi
cat "$work/cp.out"
xds=$(sed -n 's/.*serving xDS on \([^ ]*\) and the API on http:\/\/\([^ ]*\) .*/\1/p' "$work/cp.out")
api=$(sed -n 's/.*serving xDS on \([^ ]*\) and the API on http:\/\/\([^ ]*\) .*/\2/p' "$work/cp.out")
export EMBASSY_SERVER="http://$api" EMBASSY_TOKEN_FILE="$work/data/admin-token"

step "Applying examples/quickstart"
"$BIN/embassyctl" apply -f examples/quickstart

step "Starting echo v1 (127.0.0.1:18081) and echo v2 (127.0.0.1:18082)"
"$BIN/echo-server" --addr 127.0.0.1:18081 --name v1 &
pids+=($!)
"$BIN/echo-server" --addr 127.0.0.1:18082 --name v2 &
pids+=($!)

"$BIN/embassyctl" bootstrap grpc --workload echo-client.default --xds-address "$xds" >"$work/client-bootstrap.json"

step "1,000 calls from a proxyless gRPC client to xds:///echo.default:50051 (Route: 80% v1, 20% v2)"
"$BIN/echo-client" --bootstrap "$work/client-bootstrap.json" --target xds:///echo.default:50051 --count 1000

step "Watching the split per second while all traffic moves to v2"
"$BIN/echo-client" --bootstrap "$work/client-bootstrap.json" --target xds:///echo.default:50051 --interval 1s --duration 5s &
client=$!
pids+=($client)
sleep 2
"$BIN/embassyctl" proxy-status
cat >"$work/all-v2.yaml" <<'YAML'
apiVersion: embassy.dev/v1alpha1
kind: Route
metadata:
  name: echo
  namespace: default
spec:
  service: echo
  rules:
    - backends:
        - subset: {version: v2}
          weight: 100
YAML
"$BIN/embassyctl" apply -f "$work/all-v2.yaml"
wait "$client" || true

step "Stored resources"
"$BIN/embassyctl" get services -A
"$BIN/embassyctl" get routes -A

if [ "${DEMO_KEEP:-0}" = 1 ]; then
  step "Still running (Ctrl-C to stop): EMBASSY_SERVER=$EMBASSY_SERVER EMBASSY_TOKEN_FILE=$EMBASSY_TOKEN_FILE"
  wait
fi
step "Done"
