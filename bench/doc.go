// Package bench measures how fast embassy-cp pushes a change to many
// proxies, beside a bare go-control-plane snapshot-cache server serving
// the same translated configuration (the baseline). It generates a mesh,
// starts a server in-process, connects simulated Envoy sidecars over real
// ADS streams (state of the world or Delta), changes one service's
// endpoints and then one Route, and reports when every proxy has received
// and ACKed each change, how many bytes the push cost, and how much server
// heap each proxy holds; runs alternate between the servers and are
// summarized as medians with embassy's ratio to the baseline.
//
// The simulated proxies run either in the same process (tests and
// testing.B benchmarks) or in a child process (embassy-bench), so that the
// control plane's heap is measured without theirs.
//
// RunReplicas compares one control plane with several sharing one etcd
// member (the Single and Replicas servers): each control plane and the
// member run in child processes of their own (ServeReplicaChild), the
// proxies spread over the replicas, and each process reports its own heap.
//
// Reading the numbers:
//   - The mesh is seeded through an apply; each measured change is one
//     store commit, so the times cover the push path alone.
//   - p50, p99 and max run from the store commit of the change to the
//     moment each proxy had sent its ACK of the response carrying the
//     changed resource, so they include the control plane's debounce.
//   - acked is how many proxies the server's status (embassy-cp's own, the
//     baseline's callbacks) shows as having ACKed that type at a version
//     sent after the change.
//   - bytes/push is every response byte the xDS server sent because of the
//     change (all types, all proxies), measured until the server was quiet.
//   - heap/proxy is the control plane's live heap after the proxies were
//     configured, minus before they connected, divided by their number.
package bench
