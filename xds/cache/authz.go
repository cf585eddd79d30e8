package cache

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"embassy.dev/embassy/pkg/dataplane"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// versionByBundle versions a node's authorization bundles by their
// revisions, so what an agent ACKs says which policy revision it loaded:
// each resource's delta version is its bundle's revision, and the type's
// version is the revisions joined with "," in name order (exactly the
// revision when one policy targets the workload). A type holding anything
// but bundles keeps its content hash.
func versionByBundle(ts *typeSet) {
	revs := make(map[string]string, len(ts.items))
	for name, item := range ts.items {
		rev, ok := bundleRevision(item.res)
		if !ok {
			return
		}
		revs[name] = rev
	}
	ordered := make([]string, 0, len(revs))
	for _, name := range slices.Sorted(maps.Keys(revs)) {
		ordered = append(ordered, revs[name])
	}
	for name, rev := range revs {
		// A new entry: the one it replaces is shared by content (encodings).
		e := ts.items[name]
		ts.items[name] = newEntry(name, e.res, rev, e.any)
	}
	ts.version = strings.Join(ordered, ",")
}

// bundleRevision reads the revision of the bundle an authorization
// TypedExtensionConfig carries.
func bundleRevision(res any) (string, bool) {
	ec, ok := res.(*core.TypedExtensionConfig)
	if !ok || !strings.HasPrefix(ec.GetName(), dataplane.AuthzExtensionPrefix) {
		return "", false
	}
	bv := &wrapperspb.BytesValue{}
	if err := ec.GetTypedConfig().UnmarshalTo(bv); err != nil {
		return "", false
	}
	var b struct {
		Revision string `json:"revision"`
	}
	if err := json.Unmarshal(bv.GetValue(), &b); err != nil || b.Revision == "" {
		return "", false
	}
	return b.Revision, true
}

// AuthzRevisionsAcked says which bundle revisions a version of the
// ExtensionConfig type holds, as versionByBundle wrote it.
func AuthzRevisionsAcked(version string) map[string]bool {
	out := map[string]bool{}
	for _, rev := range strings.Split(version, ",") {
		if rev != "" {
			out[rev] = true
		}
	}
	return out
}
