package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"embassy.dev/embassy/pkg/resource"
)

// PrintError writes err to w one line at a time, each prefixed "error: ".
// A server's message already holds one line per bad document, with its
// file, index and field, so it is printed as the server wrote it.
func PrintError(w io.Writer, err error) {
	var re *resource.Errors
	if errors.As(err, &re) && re != nil {
		for _, d := range *re {
			fmt.Fprintf(w, "error: %s\n", d.Error())
		}
		return
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(w, "error: %s\n", line)
	}
}
