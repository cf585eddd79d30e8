package resource

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GRPCStatusCodes maps gRPC status names to their codes, for fault aborts.
var GRPCStatusCodes = map[string]uint32{
	"OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4,
	"NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8,
	"FAILED_PRECONDITION": 9, "ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12,
	"INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}

// ParseGRPCStatus reads a gRPC status given by name (UNAVAILABLE) or by
// number (14).
func ParseGRPCStatus(s string) (uint32, bool) {
	if c, ok := GRPCStatusCodes[strings.ToUpper(s)]; ok {
		return c, true
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > 16 {
		return 0, false
	}
	return uint32(n), true
}

// RedirectCodes are the statuses a redirect may answer with.
var RedirectCodes = []uint32{301, 302, 303, 307, 308}

// RateLimitStatuses are the statuses a rate limit may answer with: the
// 4xx and 5xx codes Envoy's HttpStatus knows.
var RateLimitStatuses = []uint32{
	400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417,
	421, 422, 423, 424, 426, 428, 429, 431,
	500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
}

// maxDirectResponseBody is Envoy's default limit on an inline body.
const maxDirectResponseBody = 4096

// MinFillInterval is the shortest token-bucket refill Envoy loads: its
// local rate limiter (source/extensions/filters/common/local_ratelimit/
// local_ratelimit_impl.cc) throws "local rate limit token bucket fill
// timer must be >= 50ms", for per-route configs too, so a shorter one
// would get the whole route configuration NACKed.
const MinFillInterval = 50 * time.Millisecond

// headerNamePattern is an HTTP header name (an RFC 9110 token).
var headerNamePattern = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")

// fault checks fault injection: a delay, an abort, or both.
func (v *validator) fault(path string, f *Fault) {
	if f.Delay == nil && f.Abort == nil {
		v.errorf(path, "set delay, abort or both")
	}
	if d := f.Delay; d != nil {
		if d.Fixed == "" {
			v.errorf(path+".delay.fixed", "required")
		}
		v.duration(path+".delay.fixed", d.Fixed)
		v.percent(path+".delay.percent", d.Percent)
	}
	if a := f.Abort; a != nil {
		switch {
		case a.HTTPStatus == 0 && a.GRPCStatus == "":
			v.errorf(path+".abort", "set httpStatus or grpcStatus: an abort needs a status to answer with")
		case a.HTTPStatus != 0 && a.GRPCStatus != "":
			v.errorf(path+".abort", "set only one of httpStatus and grpcStatus")
		case a.HTTPStatus != 0 && (a.HTTPStatus < 200 || a.HTTPStatus > 599):
			v.errorf(path+".abort.httpStatus", "must be from 200 to 599, got %d", a.HTTPStatus)
		case a.GRPCStatus != "":
			c, ok := ParseGRPCStatus(a.GRPCStatus)
			if !ok {
				v.errorf(path+".abort.grpcStatus", "must be a gRPC status name such as UNAVAILABLE, or its number from 1 to 16, got %q", a.GRPCStatus)
			} else if c == 0 {
				v.errorf(path+".abort.grpcStatus", "must be an error; OK aborts nothing")
			}
		}
		v.percent(path+".abort.percent", a.Percent)
	}
	for i, h := range f.Headers {
		v.headerMatch(index(path+".headers", i), h)
	}
}

// percent checks a share of requests.
func (v *validator) percent(path string, p float64) {
	if p < 0 || p > 100 {
		v.errorf(path, "must be from 0 to 100, got %g", p)
	}
}

// headerEdits checks header additions, replacements and removals.
func (v *validator) headerEdits(path string, e *HeaderEdits) {
	if e == nil {
		return
	}
	for _, k := range slices.Sorted(maps.Keys(e.Add)) {
		v.editableHeader(path+".add."+k, k, e.Add[k])
	}
	for _, k := range slices.Sorted(maps.Keys(e.Set)) {
		v.editableHeader(path+".set."+k, k, e.Set[k])
		if _, both := e.Add[k]; both {
			v.errorf(path+".set."+k, "header %q is both added and set; set replaces, add appends: keep one", k)
		}
	}
	for i, k := range e.Remove {
		p := index(path+".remove", i)
		v.editableHeader(p, k, "")
		_, added := e.Add[k]
		_, set := e.Set[k]
		if added || set {
			v.errorf(p, "header %q is both removed and added or set; keep one", k)
		}
	}
}

// editableHeader checks a header name and value a proxy may write. Pseudo
// headers and Host are the proxy's own; Host changes go through rewrite.
func (v *validator) editableHeader(path, name, value string) {
	lower := strings.ToLower(name)
	switch {
	case name == "":
		v.errorf(path, "header name required")
	case strings.HasPrefix(name, ":") || lower == "host":
		v.errorf(path, "header %q cannot be edited: pseudo-headers and Host belong to the proxy (use rewrite.host to change the authority)", name)
	case !headerNamePattern.MatchString(name):
		v.errorf(path, "must be an HTTP header name, got %q", name)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		v.errorf(path, "header value must not contain CR, LF or NUL")
	}
}

// rewrite checks a path and host rewrite.
func (v *validator) rewrite(path string, r *Rewrite) {
	if r.Prefix != "" && r.Regex != nil {
		v.errorf(path, "set at most one of prefix and regex")
	}
	if r.Prefix != "" && !strings.HasPrefix(r.Prefix, "/") {
		v.errorf(path+".prefix", "must start with '/', got %q", r.Prefix)
	}
	if x := r.Regex; x != nil {
		if x.Pattern == "" {
			v.errorf(path+".regex.pattern", "required")
		} else {
			v.regex(path+".regex.pattern", x.Pattern)
		}
	}
	if r.Prefix == "" && r.Regex == nil && r.Host == "" {
		v.errorf(path, "set prefix, regex or host")
	}
	v.hostname(path+".host", r.Host)
}

// hostname checks an authority without scheme or path (empty is allowed).
func (v *validator) hostname(path, h string) {
	if h != "" && strings.ContainsAny(h, "/ \t\r\n?#@") {
		v.errorf(path, "must be a host name (optionally with :port), got %q", h)
	}
}

// redirect checks a redirect answer.
func (v *validator) redirect(path string, r *Redirect) {
	if r.Scheme == "" && r.Host == "" && r.Port == 0 && r.Path == "" {
		v.errorf(path, "set at least one of scheme, host, port or path")
	}
	v.oneOf(path+".scheme", r.Scheme, false, "http", "https")
	v.hostname(path+".host", r.Host)
	if r.Port != 0 {
		v.portRange(path+".port", r.Port, 1)
	}
	if r.Path != "" && !strings.HasPrefix(r.Path, "/") {
		v.errorf(path+".path", "must start with '/', got %q", r.Path)
	}
	if r.ResponseCode != 0 && !slices.Contains(RedirectCodes, r.ResponseCode) {
		v.errorf(path+".responseCode", "must be one of 301, 302, 303, 307, 308, got %d", r.ResponseCode)
	}
}

// directResponse checks a fixed answer.
func (v *validator) directResponse(path string, d *DirectResponse) {
	if d.Status < 200 || d.Status > 599 {
		v.errorf(path+".status", "must be from 200 to 599, got %d", d.Status)
	}
	if len(d.Body) > maxDirectResponseBody {
		v.errorf(path+".body", "must be at most %d bytes, got %d", maxDirectResponseBody, len(d.Body))
	}
}

// rateLimit checks a token bucket.
func (v *validator) rateLimit(path string, r *RateLimit) {
	if r.MaxTokens == 0 {
		v.errorf(path+".maxTokens", "must be at least 1")
	}
	if r.TokensPerFill > r.MaxTokens && r.MaxTokens > 0 {
		v.errorf(path+".tokensPerFill", "must not exceed maxTokens %d, got %d", r.MaxTokens, r.TokensPerFill)
	}
	if r.FillInterval == "" {
		v.errorf(path+".fillInterval", "required")
	}
	if d, ok := v.duration(path+".fillInterval", r.FillInterval); ok && d < MinFillInterval {
		v.errorf(path+".fillInterval", "must be at least %s (Envoy's shortest token-bucket refill), got %s", MinFillInterval, string(r.FillInterval))
	}
	if r.Status != 0 && !slices.Contains(RateLimitStatuses, r.Status) {
		v.errorf(path+".status", "must be a 4xx or 5xx status such as 429 or 503, got %d", r.Status)
	}
	for _, k := range slices.Sorted(maps.Keys(r.ResponseHeaders)) {
		v.editableHeader(path+".responseHeaders."+k, k, r.ResponseHeaders[k])
	}
}
