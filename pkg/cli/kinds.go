package cli

import (
	"io"
	"strings"

	"embassy.dev/embassy/pkg/resource"
)

// PrintKinds writes the table of resource kinds `embassyctl get` accepts:
// each kind with its plural, its short names and whether it is namespaced,
// so a user who does not know the kinds can find them.
func PrintKinds(w io.Writer, o TableOptions) error {
	t := &table{headers: []string{"KIND", "PLURAL", "SHORT NAMES", "NAMESPACED"}, gap: 3}
	for _, k := range resource.Kinds {
		namespaced := "false"
		if k.Namespaced() {
			namespaced = "true"
		}
		t.rows = append(t.rows, []string{string(k), k.Plural(), orDash(strings.Join(resource.ShortNames[k], ",")), namespaced})
	}
	return t.write(w, o)
}
