package cache

import (
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
)

// changedVersions lists, by type URL, the versions of snap that differ
// from old's (every non-empty one when old is nil): what a push changes
// for a node, so a change can be followed to each proxy's answer.
func changedVersions(old cachev3.ResourceSnapshot, snap *cachev3.Snapshot) map[string]string {
	if old == cachev3.ResourceSnapshot(snap) {
		return nil
	}
	var out map[string]string
	for i := types.ResponseType(0); i < types.UnknownType; i++ {
		url, err := cachev3.GetResponseTypeURL(i)
		if err != nil {
			continue
		}
		v, was := snap.GetVersion(url), ""
		if old != nil {
			was = old.GetVersion(url)
		}
		if v != was {
			if out == nil {
				out = map[string]string{}
			}
			out[url] = v
		}
	}
	return out
}
