// Package identity is the certificate authority inside embassy-cp: it keeps
// the trust domain's roots (a builtin ECDSA root kept in the store's
// Secrets, or a provided CA read from files), checks CSRs, signs X.509-SVIDs
// and JWT-SVIDs, rotates roots by publishing a new one before it signs, and
// manages the join tokens agents redeem for their first SVID.
//
// Private keys never leave this package except to the store's Secrets.
package identity
