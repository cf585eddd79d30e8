// Package spiffe is the mesh's SPIFFE scheme as both sides of identity use
// it: the key and CSR a node makes, certificate chains as PEM, and which
// server an agent trusts as the control plane. The IDs themselves, of
// workloads and of the control plane, are the data-plane contract's
// (package dataplane).
//
// It is the node side of identity: embassy-agent, or any other agent,
// needs it to hold an SVID, and it needs no store. The control plane's
// CA, join tokens and rotation live in package identity, which embassy-agent
// does not link (TestAgentLinksNoStore checks it).
package spiffe
