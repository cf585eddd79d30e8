// Package cli holds embassyctl's logic: reading files to apply, printing
// resources and results, diffing, and judging proxy sync state. The
// command in cmd/embassyctl only parses flags and wires these together.
package cli
