package agent

// socketMode lets the agent's group connect: put Envoy (and any
// application using the Workload API) in the agent's group. Other users
// cannot connect; the directory itself is created 0750. The directory's
// file names are the data-plane contract's (package dataplane).
const socketMode = 0o660
