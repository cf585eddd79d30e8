package cache

import (
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"embassy.dev/embassy/xds/cache/cachetest"
)

// ResourceName reads the name every served type's decoding reads, and
// never fails on bytes that are not a message.
func FuzzResourceName(f *testing.F) {
	for _, r := range []types.Resource{
		cachetest.Listener("outbound", 15001),
		cachetest.LoadAssignment("outbound|8080||web.default", 8080),
		&cluster.Cluster{Name: "db", AltStatName: "x"},
		&tls.Secret{Name: "default"},
	} {
		b, err := cachev3.MarshalResource(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0x01, 'a', 0x0a, 0x01, 'b'})
	f.Add([]byte{0x0a, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got := ResourceName(&anypb.Any{Value: b})
		// A Cluster's name is field 1, as every served type's is.
		var c cluster.Cluster
		if err := proto.Unmarshal(b, &c); err != nil {
			return
		}
		if got != c.GetName() {
			t.Fatalf("ResourceName(%x) = %q, decoding reads %q", b, got, c.GetName())
		}
	})
}
