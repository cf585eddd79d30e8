package cli

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"embassy.dev/embassy/pkg/resource"
)

// RuleSummary says in one line what a Route rule matches and does:
// "GET prefix /api, header x-canary=1 → 90% version=v1, 10% version=v2;
// timeout 2s; retries 3".
func RuleSummary(r resource.RouteRule) string {
	var parts []string
	if r.Name != "" {
		parts = append(parts, r.Name+":")
	}
	parts = append(parts, matchesText(r.Matches), "→", actionText(r))
	out := strings.Join(parts, " ")
	if extra := ruleExtras(r); len(extra) > 0 {
		out += "; " + strings.Join(extra, "; ")
	}
	return out
}

// matchesText joins a rule's matches with " or ", "any request" for none.
func matchesText(ms []resource.RouteMatch) string {
	if len(ms) == 0 {
		return "any request"
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		var p []string
		if m.Method != "" {
			p = append(p, m.Method)
		}
		if m.Path != nil {
			switch {
			case m.Path.Exact != "":
				p = append(p, "path "+m.Path.Exact)
			case m.Path.Prefix != "":
				p = append(p, "prefix "+m.Path.Prefix)
			case m.Path.Regex != "":
				p = append(p, "regex "+m.Path.Regex)
			}
		}
		if m.GRPC != nil {
			p = append(p, "grpc "+strings.TrimSuffix(m.GRPC.Service+"/"+m.GRPC.Method, "/"))
		}
		for _, h := range m.Headers {
			p = append(p, "header "+headerText(h))
		}
		for _, q := range m.QueryParams {
			v := "=" + q.Exact
			switch {
			case q.Regex != "":
				v = "~" + q.Regex
			case q.Present:
				v = " present"
			}
			p = append(p, "query "+q.Name+v)
		}
		if len(p) == 0 {
			p = append(p, "any request")
		}
		out[i] = strings.Join(p, ", ")
	}
	return strings.Join(out, " or ")
}

func headerText(h resource.HeaderMatch) string {
	var v string
	switch {
	case h.Exact != "":
		v = "=" + h.Exact
	case h.Prefix != "":
		v = "=" + h.Prefix + "*"
	case h.Suffix != "":
		v = "=*" + h.Suffix
	case h.Regex != "":
		v = "~" + h.Regex
	case h.Absent:
		v = " absent"
	default:
		v = " present"
	}
	if h.Invert {
		return "not " + h.Name + v
	}
	return h.Name + v
}

// actionText is where a rule sends a request: weighted backends, or a
// redirect or direct response.
func actionText(r resource.RouteRule) string {
	switch {
	case r.Redirect != nil:
		return fmt.Sprintf("redirect %s%s%s", r.Redirect.Scheme, r.Redirect.Host, r.Redirect.Path)
	case r.DirectResponse != nil:
		return fmt.Sprintf("respond %d", r.DirectResponse.Status)
	case len(r.Backends) == 0:
		return "the service"
	}
	total := int32(0)
	for _, b := range r.Backends {
		total += weight(b)
	}
	out := make([]string, len(r.Backends))
	for i, b := range r.Backends {
		name := b.Service
		if len(b.Subset) > 0 {
			name = strings.TrimPrefix(name+" "+labels(b.Subset), " ")
		}
		if name == "" {
			name = "the service"
		}
		if len(r.Backends) == 1 || total == 0 {
			out[i] = name
			continue
		}
		out[i] = fmt.Sprintf("%s%% %s", strconv.FormatFloat(float64(weight(b))*100/float64(total), 'f', -1, 64), name)
	}
	return strings.Join(out, ", ")
}

// weight is a backend's weight, 1 when unset.
func weight(b resource.Backend) int32 {
	if b.Weight == nil {
		return 1
	}
	return *b.Weight
}

// ruleExtras lists a rule's timeouts, retries, faults and edits.
func ruleExtras(r resource.RouteRule) []string {
	var out []string
	if r.Timeout != "" {
		out = append(out, "timeout "+string(r.Timeout))
	}
	if r.Retries != nil {
		out = append(out, fmt.Sprintf("retries %d", r.Retries.Attempts))
	}
	if f := r.Fault; f != nil {
		if f.Delay != nil {
			out = append(out, fmt.Sprintf("delay %s %g%%", f.Delay.Fixed, f.Delay.Percent))
		}
		if f.Abort != nil {
			code := strconv.FormatUint(uint64(f.Abort.HTTPStatus), 10)
			if f.Abort.GRPCStatus != "" {
				code = f.Abort.GRPCStatus
			}
			out = append(out, fmt.Sprintf("abort %s %g%%", code, f.Abort.Percent))
		}
	}
	if r.Mirror != nil {
		out = append(out, fmt.Sprintf("mirror %g%% to %s", r.Mirror.Percent, strings.TrimSpace(r.Mirror.Service+" "+labelsOrEmpty(r.Mirror.Subset))))
	}
	if r.Rewrite != nil {
		out = append(out, "rewrite")
	}
	if r.RequestHeaders != nil || r.ResponseHeaders != nil {
		out = append(out, "header edits")
	}
	if r.RateLimit != nil {
		out = append(out, fmt.Sprintf("rate limit %d per %s", r.RateLimit.MaxTokens, r.RateLimit.FillInterval))
	}
	return out
}

func labelsOrEmpty(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	return labels(m)
}

// trafficSummary lists a TrafficPolicy's settings, one phrase each.
func trafficSummary(s *resource.TrafficPolicySpec) []string {
	var out []string
	if lb := s.LoadBalancer; lb != nil {
		v := "load balancer " + lb.Policy
		switch {
		case lb.HashHeader != "":
			v += " on header " + lb.HashHeader
		case lb.HashCookie != nil:
			v += " on cookie " + lb.HashCookie.Name
		case lb.HashSourceIP:
			v += " on source IP"
		}
		out = append(out, v)
	}
	if s.ConnectTimeout != "" {
		out = append(out, "connect timeout "+string(s.ConnectTimeout))
	}
	if p := s.ConnectionPool; p != nil {
		out = append(out, fmt.Sprintf("connection pool max %d connections, %d pending, %d requests, %d retries",
			p.MaxConnections, p.MaxPendingRequests, p.MaxRequests, p.MaxRetries))
	}
	if od := s.OutlierDetection; od != nil {
		out = append(out, fmt.Sprintf("outlier detection after %d 5xx, every %s, eject %s, at most %d%%",
			od.Consecutive5xx, orDash(string(od.Interval)), orDash(string(od.BaseEjectionTime)), od.MaxEjectionPercent))
	}
	if l := s.Locality; l != nil {
		var order []string
		for _, f := range l.Failover {
			order = append(order, strings.TrimSuffix(f.Region+"/"+f.Zone, "/"))
		}
		v := "locality"
		if l.Weighted {
			v += " weighted"
		}
		if len(order) > 0 {
			v += ", failover " + strings.Join(order, " → ")
		}
		out = append(out, v)
	}
	if rl := s.RateLimit; rl != nil {
		out = append(out, fmt.Sprintf("inbound rate limit %d per %s", rl.MaxTokens, rl.FillInterval))
	}
	if hc := s.HealthCheck; hc != nil {
		kind := "tcp"
		switch {
		case hc.HTTP != nil:
			kind = "http " + hc.HTTP.Path
		case hc.GRPC != nil:
			kind = strings.TrimSpace("grpc " + hc.GRPC.Service)
		}
		out = append(out, fmt.Sprintf("health check %s every %s", kind, hc.Interval))
	}
	return out
}

// routeService is a Route's service, with ":port" when it names one.
func routeService(s *resource.RouteSpec) string {
	if s.Port == 0 {
		return s.Service
	}
	return s.Service + ":" + strconv.FormatUint(uint64(s.Port), 10)
}

// targetsText renders a policy's target services and selector.
func targetsText(t resource.Targets) string {
	var p []string
	if len(t.Services) > 0 {
		p = append(p, "services "+strings.Join(t.Services, ","))
	}
	if t.Selector != nil && len(t.Selector.MatchLabels) > 0 {
		p = append(p, "selector "+labels(t.Selector.MatchLabels))
	}
	return orDash(strings.Join(p, "; "))
}

// locality renders region/zone/subzone, "-" when unset.
func locality(l *resource.Locality) string {
	if l == nil {
		return "-"
	}
	return orDash(strings.TrimRight(l.Region+"/"+l.Zone+"/"+l.SubZone, "/"))
}

// portMap renders name=port pairs sorted by name.
func portMap(m map[string]uint32) string {
	if len(m) == 0 {
		return "-"
	}
	keys := slices.Sorted(maps.Keys(m))
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(out, ",")
}
