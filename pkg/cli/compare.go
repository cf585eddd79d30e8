package cli

import (
	"context"
	"fmt"
	"io"

	"embassy.dev/embassy/pkg/client"
	"embassy.dev/embassy/pkg/resource"
)

// DiffResources compares each resource with what the server stores and
// writes a diff for every one that would change (from /dev/null, marked
// "(new)", for one that is not stored). It reports whether any differs.
func DiffResources(ctx context.Context, c *client.Client, rs []*resource.Resource, w io.Writer) (bool, error) {
	differs := false
	for _, r := range rs {
		k := r.Key()
		stored, err := c.Get(ctx, string(k.Kind), k.Namespace, k.Name)
		if err != nil && !client.IsNotFound(err) {
			return differs, fmt.Errorf("read stored %s: %w", k, err)
		}
		if err == nil && resource.Equal(stored, r) {
			continue
		}
		local, err := resource.ToYAML([]*resource.Resource{r})
		if err != nil {
			return differs, err
		}
		from, fromName := "", "/dev/null"
		toName := KeyName(k) + " (new)"
		if stored != nil {
			b, err := resource.ToYAML([]*resource.Resource{stored})
			if err != nil {
				return differs, err
			}
			from, fromName = string(b), KeyName(k)+" (stored)"
			toName = KeyName(k) + " (" + origin(r) + ")"
		}
		changed, err := WriteDiff(w, fromName, toName, from, string(local))
		if err != nil {
			return differs, err
		}
		// YAML can render alike what Equal tells apart (or the reverse);
		// either way the resource would be written, so it counts.
		differs = true
		if !changed {
			fmt.Fprintf(w, "%s differs from the stored copy in a way YAML does not show\n", KeyName(k))
		}
	}
	return differs, nil
}

// origin names the file a resource was read from.
func origin(r *resource.Resource) string {
	if r.Origin == nil {
		return "local"
	}
	return r.Origin.File
}

// DecodePaths decodes every path with resource.DecodePath, collecting the
// problems of all of them into one *resource.Errors.
func DecodePaths(paths []string) ([]*resource.Resource, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no files given: pass -f FILE or -f DIR (repeatable)")
	}
	var all []*resource.Resource
	var errs resource.Errors
	for _, p := range paths {
		rs, err := resource.DecodePath(p)
		if err != nil {
			var re *resource.Errors
			if asErrors(err, &re) {
				errs = append(errs, *re...)
				continue
			}
			return nil, err
		}
		all = append(all, rs...)
	}
	if len(errs) > 0 {
		return nil, &errs
	}
	return all, nil
}
