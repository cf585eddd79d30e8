package main

import "embassy.dev/embassy/internal/echo"

// The environment variables grpc-go reads its xDS bootstrap from.
const (
	envBootstrapFile   = echo.EnvBootstrapFile
	envBootstrapConfig = echo.EnvBootstrapConfig
)

// useBootstrap makes grpc-go use file as its xDS bootstrap by running this
// program again with GRPC_XDS_BOOTSTRAP set (see echo.UseBootstrap).
func useBootstrap(file string) error { return echo.UseBootstrap(file) }
