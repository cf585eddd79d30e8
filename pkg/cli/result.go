package cli

import (
	"fmt"
	"io"
	"strings"

	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/resource"
)

// KeyName renders a key as kubectl-style kind/namespace/name in lower case
// kind (kind/name for a Mesh).
func KeyName(k resource.Key) string {
	kind := strings.ToLower(string(k.Kind))
	if k.Namespace == "" {
		return kind + "/" + k.Name
	}
	return kind + "/" + k.Namespace + "/" + k.Name
}

// PrintResult writes one line per item to out ("service/default/echo
// created", with " (dry run)" in a dry run) and each warning to errOut.
func PrintResult(out, errOut io.Writer, res *apply.Result) {
	suffix := ""
	if res.DryRun {
		suffix = " (dry run)"
	}
	for _, it := range res.Items {
		fmt.Fprintf(out, "%s %s%s\n", KeyName(it.Key), it.Action, suffix)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(errOut, "warning: %s\n", w)
	}
}
