package dataplane

// DefaultXDSAddress is where embassy-cp serves xDS (and the identity API)
// by default, and so where bootstraps and agents look for it.
const DefaultXDSAddress = "127.0.0.1:15010"
