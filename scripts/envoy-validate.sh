#!/usr/bin/env bash
# make envoy-validate: write one Envoy bootstrap per Workload of the example
# meshes, then check each with `envoy --mode validate` when an envoy binary
# is on PATH. Without one it says so plainly and succeeds: the same
# bootstraps pass the Envoy protos' ValidateAll in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
out=$(mktemp -d -t embassy-bootstraps.XXXXXX)
trap 'rm -rf "$out"' EXIT

"$GO" run ./scripts/genbootstraps --out "$out" examples/quickstart examples/bookstore

shopt -s nullglob
files=("$out"/*.yaml)
if [ "${#files[@]}" -eq 0 ]; then
  echo "no bootstraps were generated" >&2
  exit 1
fi

if ! command -v envoy >/dev/null 2>&1; then
  echo "envoy not found on PATH: skipped 'envoy --mode validate' for ${#files[@]} bootstraps (they pass ValidateAll in make test)"
  exit 0
fi

echo "validating with $(envoy --version 2>/dev/null | head -n 1)"
failed=0
for f in "${files[@]}"; do
  # --log-level error keeps passing files quiet; a failure prints its log.
  if log=$(envoy --mode validate --log-level error -c "$f" 2>&1); then
    echo "ok    $(basename "$f")"
  else
    echo "FAIL  $(basename "$f")"
    printf '%s\n' "$log" | sed 's/^/      /'
    failed=$((failed + 1))
  fi
done
if [ "$failed" -gt 0 ]; then
  echo "$failed of ${#files[@]} bootstraps failed 'envoy --mode validate'" >&2
  exit 1
fi
echo "all ${#files[@]} bootstraps pass 'envoy --mode validate'"
