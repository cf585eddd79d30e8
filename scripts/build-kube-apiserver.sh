#!/usr/bin/env bash
# Builds the real Kubernetes API server (k8s.io/kubernetes KUBE_VERSION)
# and kube-etcd (an embedded etcd) from internal/kubetest/build into
# DIR (default ${XDG_CACHE_HOME:-~/.cache}/embassy/kube-apiserver-KUBE_VERSION),
# once: later runs reuse the binaries. It prints the directory on its last
# line. The first build takes about 6 minutes on 2 cores.
set -euo pipefail

KUBE_VERSION=v1.37.2
cache=${XDG_CACHE_HOME:-$HOME/.cache}
DIR=${1:-"$cache/embassy/kube-apiserver-$KUBE_VERSION"}
GO=${GO:-go}
src="$(cd "$(dirname "$0")/.." && pwd)/internal/kubetest/build"

if [[ -x "$DIR/kube-apiserver" && -x "$DIR/kube-etcd" ]]; then
	echo "kube-apiserver $KUBE_VERSION is already built in $DIR" >&2
	echo "$DIR"
	exit 0
fi

mkdir -p "$DIR"
echo "building kube-apiserver $KUBE_VERSION and kube-etcd into $DIR (about 6 minutes on 2 cores; later runs reuse it) ..." >&2
start=$(date +%s)
# Build into a temporary name and rename, so an interrupted build is never
# taken for a finished one.
if ! (cd "$src" && GOFLAGS=-mod=readonly "$GO" build -o "$DIR/.partial/" k8s.io/kubernetes/cmd/kube-apiserver ./kube-etcd); then
	echo "could not build kube-apiserver $KUBE_VERSION from $src: see the errors above" >&2
	echo "(it needs the Go module proxy to serve k8s.io/kubernetes $KUBE_VERSION and its v0.${KUBE_VERSION#v1.} staging modules)" >&2
	exit 1
fi
mv "$DIR/.partial/kube-apiserver" "$DIR/.partial/kube-etcd" "$DIR/"
rmdir "$DIR/.partial"
echo "built kube-apiserver $KUBE_VERSION in $(( $(date +%s) - start ))s into $DIR" >&2
echo "$DIR"
