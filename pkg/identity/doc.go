// Package identity is the control plane's side of identity: the
// certificate authority inside embassy-cp. It keeps the trust domain's
// roots (a builtin ECDSA root kept in the store's Secrets, or a provided
// CA read from files), checks CSRs, signs X.509-SVIDs and JWT-SVIDs,
// rotates roots by publishing a new one before it signs, and manages the
// join tokens agents redeem for their first SVID.
//
// What a node needs to hold an identity (the SPIFFE ID scheme, its key
// and CSR, PEM chains) is in package spiffe, and the join token's format
// in package jointoken: neither needs the store, so embassy-agent does not
// link this package.
//
// Private keys never leave this package except to the store's Secrets.
package identity
