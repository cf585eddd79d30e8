package cli

import (
	"errors"
	"slices"

	"embassy.dev/embassy/pkg/resource"
)

// asErrors is errors.As for *resource.Errors, false for a nil list.
func asErrors(err error, target **resource.Errors) bool {
	return errors.As(err, target) && *target != nil
}

// DeleteOrder sorts resources so that referrers come before what they
// refer to (Routes before Services), which lets a delete of a whole
// directory pass the server's reference check one resource at a time.
func DeleteOrder(rs []*resource.Resource) []resource.Key {
	keys := make([]resource.Key, len(rs))
	for i, r := range rs {
		keys[i] = r.Key()
	}
	rank := func(k resource.Kind) int { return slices.Index(resource.Kinds, k) }
	slices.SortStableFunc(keys, func(a, b resource.Key) int { return rank(b.Kind) - rank(a.Kind) })
	return keys
}
