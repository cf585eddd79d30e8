package mesh

import (
	"fmt"
	"hash/fnv"
)

// tcpAddressSpan is how many addresses TCPAddress picks from:
// 127.64.0.0/10 less the .0 and .255 of every /24.
const tcpAddressSpan = 64 * 256 * 254

// TCPAddress is the loopback IP where every Envoy sidecar accepts
// connections for the tcp ports of the service: apps connect to
// <TCPAddress>:<port>. A tcp connection cannot name the service it
// wants, so the address does; it is derived from "<svc>.<ns>" alone, so it
// never moves when other services come and go. It lies in 127.64.0.0/10:
// never 127.0.0.1, where apps and the sidecar's own listeners bind, and
// outside 127.0.0.0/16, where hosts keep their own names and resolvers.
// Linux routes all of 127.0.0.0/8 to the loopback device, so binding it
// needs no setup.
func (ref ServiceRef) TCPAddress() string {
	h := fnv.New32a()
	h.Write([]byte(ref.String()))
	v := h.Sum32() % tcpAddressSpan
	return fmt.Sprintf("127.%d.%d.%d", 64+v/(256*254), v/254%256, 1+v%254)
}
