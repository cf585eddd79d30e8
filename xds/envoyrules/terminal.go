package envoyrules

import (
	"fmt"
	"strings"
)

// namedFilter is a filter of a chain: its name and its config's type URL.
type namedFilter struct{ name, typeURL string }

// terminalOrder is Envoy's validateTerminalFilters over a chain: a
// terminal filter anywhere but last, or a non-terminal filter last, is
// refused. Envoy stops at the first, and so does this. terminals maps the config type of each terminal filter to the
// factory name Envoy prints as its type.
func terminalOrder(filters []namedFilter, terminals map[string]string, chain, field string) []finding {
	for i, f := range filters {
		typ := strings.TrimPrefix(f.typeURL, "type.googleapis.com/")
		factory, terminal := terminals[typ]
		if !terminal {
			factory = typ
		}
		last := i == len(filters)-1
		switch {
		case terminal && !last:
			return []finding{{fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf(
				"Error: terminal filter named %s of type %s must be the last filter in a %s filter chain.", f.name, factory, chain)}}
		case !terminal && last:
			return []finding{{fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf(
				"Error: non-terminal filter named %s of type %s is the last filter in a %s filter chain.", f.name, factory, chain)}}
		}
	}
	return nil
}
