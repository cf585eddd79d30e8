package identity

import (
	"encoding/json"
	"fmt"

	"embassy.dev/embassy/pkg/store"
)

// putJSON stores v as JSON in the secret name; what names the contents
// in an error.
func putJSON(sec store.Secrets, name, what string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", what, err)
	}
	if err := sec.PutSecret(name, raw); err != nil {
		return fmt.Errorf("store %s %q: %w", what, name, err)
	}
	return nil
}
