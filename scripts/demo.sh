#!/usr/bin/env bash
# make demo: the quickstart on the secure path. embassy-cp serves xDS over
# mTLS only; each workload (echo v1, echo v2, the client) gets a join token
# and an embassy-agent that attests with it and writes the workload's SVID
# as PEM files; the echo servers are xDS-enabled gRPC servers and the client
# a proxyless gRPC client, both using those files for mTLS (mesh STRICT,
# trust domain example.org). It prints the traffic split, the proxy status,
# the SPIFFE ID each server saw, then shifts all traffic to v2 and prints
# the split moving. The echo servers' Workloads are registered by their
# agents (--address, --service, --port, --label), not applied by hand.
# Every port is free when picked: embassy-cp listens on ephemeral ports,
# the echo servers on the first free ports from 18081 up. It prints the
# dashboard's URL; DEMO_KEEP=1 keeps it running until Ctrl-C.
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
die() { echo "demo: $*" >&2; exit 1; }

# free_port FROM: the first port from FROM up (at most 200 tried) that
# nothing on 127.0.0.1 accepts connections on. Callers ask from above the
# last port handed out, since this runs in a subshell and remembers none.
free_port() {
  local p
  for p in $(seq "$1" $(( $1 + 199 ))); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  die "no free port on 127.0.0.1 from $1 to $(( $1 + 199 ))"
}

# wait_for FILE PATTERN [TENTHS]: poll until FILE holds PATTERN.
wait_for() {
  for _ in $(seq 1 "${3:-100}"); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# start_cp XDS-ADDR API-ADDR: embassy-cp on the demo's data dir, TLS xDS (no
# --insecure-xds), loopback clients reading without a token (the
# dashboard in a browser). Its builtin CA is made for the quickstart Mesh's trust
# domain, example.org, when the data dir is new; a Mesh naming another
# trust domain would be refused.
start_cp() {
  : >"$work/cp.out"
  "$BIN/embassy-cp" --data-dir "$work/data" --xds-addr "$1" --api-addr "$2" \
    --trust-domain example.org --anonymous-reads >"$work/cp.out" 2>>"$work/cp.log" &
  cp_pid=$!
  pids+=("$cp_pid")
  wait_for "$work/cp.out" 'serving xDS on' || { cat "$work/cp.out" "$work/cp.log"; die "embassy-cp did not start"; }
  xds=$(sed -n 's/.*serving xDS on \([^ ]*\) and the API on http:\/\/\([^ ]*\) .*/\1/p' "$work/cp.out")
  api=$(sed -n 's/.*serving xDS on \([^ ]*\) and the API on http:\/\/\([^ ]*\) .*/\2/p' "$work/cp.out")
  export EMBASSY_SERVER="http://$api" EMBASSY_TOKEN_FILE="$work/data/admin-token"
}

# check_started NAME OUT PID: when the process PID has exited, die with its
# output first (a bind error, "address already in use", says which port)
# and then a line naming the port.
check_started() {
  kill -0 "$3" 2>/dev/null && return 0
  cat "$2" >&2
  if grep -q 'address already in use' "$2"; then
    die "$1 could not listen: its port is taken (see the line above); stop what holds it, or run make demo again to pick another"
  fi
  die "$1 exited before it served"
}

step "Starting embassy-cp for trust domain example.org (data dir $work/data) and applying examples/quickstart but its Workloads"
start_cp 127.0.0.1:0 127.0.0.1:0
cat "$work/cp.out"
echo "Dashboard: $EMBASSY_SERVER/ui"
v1_port=$(free_port 18081)
v2_port=$(free_port "$(( v1_port + 1 ))")
# Everything of the quickstart but echo.yaml's Workloads, which the echo
# servers' agents register below: an agent may not register a Workload an
# operator applied. echo.yaml's first document is the echo Service.
{
  for f in examples/quickstart/*.yaml; do
    if [ "$f" = examples/quickstart/echo.yaml ]; then awk '/^---$/{exit} {print}' "$f"; else cat "$f"; fi
    echo ---
  done
} >"$work/quickstart.yaml"
"$BIN/embassyctl" apply -f "$work/quickstart.yaml"

step "Join tokens, the trust bundle, and an embassy-agent per workload"
"$BIN/embassyctl" bundle >"$work/bundle.pem"
# agent APP SERVICE-ACCOUNT [FLAG...]: a single-use token for the identity,
# then the agent of workload APP.default, whose socket dir receives
# svid.pem, svid-key.pem and bundle.pem, and the app's bootstrap with
# --cert-dir pointing there. The agent's policy stream shares the app's
# node id; the control plane keeps the two apart by the agent's flavour.
# FLAGs register the app's Workload: a server's address, service, port and
# labels.
agent() {
  local app=$1 sa=$2
  shift 2
  mkdir -p "$work/agents"
  "$BIN/embassyctl" token create --namespace default --service-account "$sa" --workload "$app" \
    --single-use --ttl 10m --output "$work/agents/$app.token"
  "$BIN/embassy-agent" --cp "$xds" --token-file "$work/agents/$app.token" --trust-bundle "$work/bundle.pem" \
    --workload "$app.default" --socket-dir "$work/agents/$app" "$@" >"$work/agents/$app.log" 2>&1 &
  pids+=($!)
}
agent echo-v1 echo --address 127.0.0.1 --service echo --port "grpc=$v1_port" --label app=echo --label version=v1
agent echo-v2 echo --address 127.0.0.1 --service echo --port "grpc=$v2_port" --label app=echo --label version=v2
agent echo-client echo-client
for app in echo-v1 echo-v2 echo-client; do
  for _ in $(seq 1 100); do [ -s "$work/agents/$app/bundle.pem" ] && break; sleep 0.1; done
  [ -s "$work/agents/$app/bundle.pem" ] || { cat "$work/agents/$app.log"; die "the agent of $app wrote no certificate"; }
  echo "$app: $work/agents/$app/svid.pem"
  "$BIN/embassyctl" bootstrap grpc --workload "$app.default" --xds-address "$xds" \
    --cert-dir "$work/agents/$app" >"$work/$app.json"
done
for app in echo-v1 echo-v2; do
  wait_for "$work/agents/$app.log" 'workload registered' 100 || { cat "$work/agents/$app.log"; die "the agent of $app did not register its Workload"; }
done

step "Starting echo v1 (127.0.0.1:$v1_port) and echo v2 (127.0.0.1:$v2_port) as xDS-enabled gRPC servers that have their agent decide each call"
declare -A server_pid
for v in v1 v2; do
  port_var=${v}_port
  "$BIN/echo-server" --xds --bootstrap "$work/echo-$v.json" --addr "127.0.0.1:${!port_var}" --name "$v" \
    --authz-socket "$work/agents/echo-$v/authz.sock" >"$work/$v.out" 2>&1 &
  server_pid[$v]=$!
  pids+=($!)
done
for v in v1 v2; do
  port_var=${v}_port
  if ! wait_for "$work/$v.out" 'serving mode SERVING' 150; then
    check_started "echo $v" "$work/$v.out" "${server_pid[$v]}"
    cat "$work/$v.out"; "$BIN/embassyctl" get workloads -A -o yaml || true; tail -30 "$work/cp.log"; cat "$work/agents/echo-$v.log"
    die "echo $v never got its Listener (it listens, but embassy-cp sent no Listener for 127.0.0.1:${!port_var}); the logs are above"
  fi
  grep 'serving mode' "$work/$v.out"
done

client() { "$BIN/echo-client" --bootstrap "$work/echo-client.json" --target xds:///echo.default:50051 "$@"; }

step "1,000 calls from the proxyless client to xds:///echo.default:50051 over mTLS (Route: 80% v1, 20% v2)"
client --count 1000

step "What the servers saw of the client (Whoami)"
: >"$work/whoami.out"
for _ in $(seq 1 20); do
  client --method Whoami >>"$work/whoami.out"
  grep -q '^v1 ' "$work/whoami.out" && grep -q '^v2 ' "$work/whoami.out" && break
done
grep '^v1 ' "$work/whoami.out" | head -1
grep '^v2 ' "$work/whoami.out" | head -1 || true

step "A plaintext client without a certificate, straight at echo v1"
if "$BIN/echo-client" --target "127.0.0.1:$v1_port" --count 1 --ready-timeout 2s --timeout 1s 2>"$work/plain.err"; then
  die "a plaintext call reached echo v1 in a STRICT mesh"
fi
echo "refused, as STRICT mTLS requires: $(tail -1 "$work/plain.err")"

step "Proxy status"
"$BIN/embassyctl" proxy-status

step "Watching the split per second while all traffic moves to v2"
client --interval 1s --duration 5s &
watcher=$!
pids+=("$watcher")
sleep 2
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
wait "$watcher" || true

step "Workload certificates (SVIDs rotate at half their lifetime)"
"$BIN/embassyctl" certs

step "The dry-run policy echo-methods: calls to Other still answer, and count as would-denies"
client --method Other --count 10
sleep 3   # the agents report a new would-deny within a second or so
"$BIN/embassyctl" describe authz echo-methods

if [ "${DEMO_KEEP:-0}" = 1 ]; then
  step "Still running (Ctrl-C to stop): EMBASSY_SERVER=$EMBASSY_SERVER EMBASSY_TOKEN_FILE=$EMBASSY_TOKEN_FILE"
  echo "Dashboard: $EMBASSY_SERVER/ui (reads need no token from this machine: embassy-cp runs with --anonymous-reads)"
  echo "agents' certificates: $work/agents/<workload>/; client bootstrap: $work/echo-client.json"
  wait
fi
step "Done (the dashboard was $EMBASSY_SERVER/ui; DEMO_KEEP=1 make demo keeps everything running)"
