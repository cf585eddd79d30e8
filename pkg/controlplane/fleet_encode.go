package controlplane

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
)

// A report is published gzipped: proxies' statuses are repetitive JSON
// (about 1 KiB each, a tenth of that compressed), and etcd refuses any
// request over its limit (1.5 MiB by default), which a replica with a
// couple of thousand proxies would otherwise pass and then vanish from
// every other replica's view.
const (
	gzipMagic = "\x1f\x8b"
	// maxFleetReport bounds a report read back, so a damaged value cannot
	// make a replica inflate without end.
	maxFleetReport = 256 << 20
)

// encodeFleetReport is the value a replica publishes.
func encodeFleetReport(r fleetReport) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if err := json.NewEncoder(zw).Encode(r); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeFleetReport reads a replica's published report: gzipped JSON, or
// from a replica of an earlier release plain JSON, or its proxies alone
// as a list.
func decodeFleetReport(raw []byte) (fleetReport, error) {
	var r fleetReport
	if bytes.HasPrefix(raw, []byte(gzipMagic)) {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return r, fmt.Errorf("decode: %w", err)
		}
		plain, err := io.ReadAll(io.LimitReader(zr, maxFleetReport+1))
		if err != nil {
			return r, fmt.Errorf("decode: %w", err)
		}
		if len(plain) > maxFleetReport {
			return r, fmt.Errorf("decode: larger than %d MiB", maxFleetReport>>20)
		}
		raw = plain
	}
	if len(raw) > 0 && raw[0] == '[' {
		err := json.Unmarshal(raw, &r.Proxies)
		return r, err
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("decode: %w", err)
	}
	return r, nil
}
