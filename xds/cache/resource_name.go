package cache

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/anypb"
)

// ResourceName reads an encoded resource's name without decoding it:
// every type Embassy serves has its name (a ClusterLoadAssignment its
// cluster_name) as field 1. As when decoding, the last occurrence of the
// field wins; an encoding that is not a message has no name ("").
func ResourceName(a *anypb.Any) string {
	b := a.GetValue()
	var name []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return ""
		}
		if num == 1 && typ == protowire.BytesType {
			name, _ = protowire.ConsumeBytes(b)
		}
		b = b[m:]
	}
	return string(name)
}
