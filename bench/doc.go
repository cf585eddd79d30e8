// Package bench measures how fast embassy-cp pushes a change to many
// proxies. It generates a mesh, starts the control plane in-process,
// connects simulated Envoy sidecars over real ADS streams (state of the
// world or Delta), changes one service's endpoints and then one Route, and
// reports when every proxy has received and ACKed each change, how many
// bytes the push cost, and how much control-plane heap each proxy holds.
//
// The simulated proxies run either in the same process (tests and
// testing.B benchmarks) or in a child process (embassy-bench), so that the
// control plane's heap is measured without theirs.
package bench
