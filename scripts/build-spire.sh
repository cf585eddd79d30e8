#!/usr/bin/env bash
# Builds spire-server and spire-agent of SPIRE_VERSION from the module
# proxy's source into DIR (default .spire/SPIRE_VERSION/bin), once: later
# runs reuse the binaries. It prints the directory on its last line.
# Building SPIRE takes several minutes and a few GB of memory.
set -euo pipefail

SPIRE_VERSION=${SPIRE_VERSION:-v1.13.0}
DIR=${1:-"$PWD/.spire/$SPIRE_VERSION/bin"}
GO=${GO:-go}

if [[ -x "$DIR/spire-server" && -x "$DIR/spire-agent" ]]; then
	echo "SPIRE $SPIRE_VERSION is already built in $DIR" >&2
	echo "$DIR"
	exit 0
fi

echo "downloading SPIRE $SPIRE_VERSION's source ..." >&2
src=$(GOFLAGS=-mod=mod "$GO" mod download -json "github.com/spiffe/spire@$SPIRE_VERSION" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
if [[ -z "$src" || ! -d "$src" ]]; then
	echo "could not download github.com/spiffe/spire@$SPIRE_VERSION" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp -r "$src" "$work/spire"
chmod -R u+w "$work/spire"
mkdir -p "$DIR"
echo "building spire-server and spire-agent into $DIR (several minutes) ..." >&2
(cd "$work/spire" && GOFLAGS= "$GO" build -o "$DIR/" ./cmd/spire-server ./cmd/spire-agent)
echo "built SPIRE $SPIRE_VERSION in $DIR" >&2
echo "$DIR"
