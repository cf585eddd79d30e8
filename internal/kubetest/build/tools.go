//go:build tools

// Package build pins the Kubernetes API server's main package so that
// `go mod tidy` keeps every module it needs.
package build

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
