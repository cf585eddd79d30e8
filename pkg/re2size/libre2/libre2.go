//go:build re2

// Package libre2 calls the real RE2 library (Debian's libre2-dev) to
// measure a regex's ProgramSize, for the differential test of the
// package above. It builds only with the re2 tag, so the rest of the tree
// needs no C++ toolchain.
package libre2

// #cgo CXXFLAGS: -std=c++17
// #cgo LDFLAGS: -lre2
// #include <stdlib.h>
// int embassy_re2_program_size(const char* pattern, int len);
import "C"

import (
	"errors"
	"unsafe"
)

// ErrInvalid is returned for a pattern RE2 refuses.
var ErrInvalid = errors.New("RE2 refuses the pattern")

// ProgramSize compiles pattern with RE2's default options, as Envoy does,
// and returns RE2::ProgramSize().
func ProgramSize(pattern string) (int, error) {
	cs := C.CString(pattern)
	defer C.free(unsafe.Pointer(cs))
	n := int(C.embassy_re2_program_size(cs, C.int(len(pattern))))
	if n < 0 {
		return 0, ErrInvalid
	}
	return n, nil
}
