package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"embassy.dev/embassy/pkg/resource"
)

// Output formats of get.
const (
	OutputTable = "table"
	OutputYAML  = "yaml"
	OutputJSON  = "json"
)

// CheckOutput refuses an unknown -o value.
func CheckOutput(format string) error {
	switch format {
	case OutputTable, OutputYAML, OutputJSON:
		return nil
	}
	return fmt.Errorf("unknown output format %q: use -o table, -o yaml or -o json", format)
}

// PrintResources writes resources of one kind in format. single prints a
// lone resource as itself rather than as a list (for `get KIND NAME`).
func PrintResources(w io.Writer, format string, kind resource.Kind, rs []*resource.Resource, single bool) error {
	return PrintResourcesWith(w, format, kind, rs, single, TableOptions{})
}

// PrintResourcesWith is PrintResources with a table fitted to o.
func PrintResourcesWith(w io.Writer, format string, kind resource.Kind, rs []*resource.Resource, single bool, o TableOptions) error {
	switch format {
	case OutputYAML:
		b, err := resource.ToYAML(rs)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case OutputJSON:
		var v any = map[string]any{"items": rs}
		if single && len(rs) == 1 {
			v = rs[0]
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	default:
		return PrintTableWith(w, kind, rs, o)
	}
}
