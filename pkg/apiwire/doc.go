// Package apiwire is the wire of embassy-cp's HTTP API: the request and
// response bodies and the headers that pkg/api serves and pkg/client
// sends and decodes. Both sides import it, so a client carries none of
// the server, and a field changes in one place for both.
package apiwire
