//go:build !unix

package extauthz

import "time"

// processCPU is unknown here; benchmarks then report zero CPU per call.
func processCPU() time.Duration { return 0 }
