// Package resource holds the user-facing resource kinds of Embassy
// (apiVersion embassy.dev/v1alpha1), their decoding from YAML and their
// validation. It knows nothing of Envoy.
package resource

import (
	"encoding/json"
	"fmt"
	"strings"
)

// APIVersion is the only apiVersion Embassy accepts today.
const APIVersion = "embassy.dev/v1alpha1"

// Kind names one of the resource kinds.
type Kind string

// The resource kinds, in the order an apply stores them.
const (
	KindMesh                Kind = "Mesh"
	KindService             Kind = "Service"
	KindWorkload            Kind = "Workload"
	KindRoute               Kind = "Route"
	KindTrafficPolicy       Kind = "TrafficPolicy"
	KindAuthorizationPolicy Kind = "AuthorizationPolicy"
)

// Kinds lists every kind in a stable order.
var Kinds = []Kind{KindMesh, KindService, KindWorkload, KindRoute, KindTrafficPolicy, KindAuthorizationPolicy}

// ShortNames are the abbreviations ParseKind accepts for each kind, as
// kubectl's are (`embassyctl get svc`). A Mesh's name is short already.
var ShortNames = map[Kind][]string{
	KindService:             {"svc"},
	KindWorkload:            {"wl"},
	KindRoute:               {"rt"},
	KindTrafficPolicy:       {"tp"},
	KindAuthorizationPolicy: {"authz", "ap"},
}

// ParseKind accepts a kind's name case-insensitively, in singular or plural
// form (so `embassyctl get services` works) or as one of its ShortNames,
// and returns its canonical form.
func ParseKind(s string) (Kind, error) {
	l := strings.ToLower(s)
	for _, k := range Kinds {
		kl := strings.ToLower(string(k))
		if l == kl || l == k.Plural() {
			return k, nil
		}
		for _, short := range ShortNames[k] {
			if l == short {
				return k, nil
			}
		}
	}
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown kind %q: expected one of %s", s, strings.Join(names, ", "))
}

// Plural is the kind's plural in lower case, as the CLI and the API's
// paths accept it: meshes, services, authorizationpolicies.
func (k Kind) Plural() string {
	l := strings.ToLower(string(k))
	switch {
	case strings.HasSuffix(l, "y"):
		return l[:len(l)-1] + "ies"
	case strings.HasSuffix(l, "sh"):
		return l + "es"
	}
	return l + "s"
}

// Namespaced reports whether resources of the kind live in a namespace.
// A Mesh is cluster-wide; every other kind is namespaced.
func (k Kind) Namespaced() bool { return k != KindMesh }

// DefaultNamespace is the namespace of a namespaced resource that names none.
const DefaultNamespace = "default"

// Metadata is the Kubernetes-style metadata of every resource.
type Metadata struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Key identifies a resource in the store: kind, namespace and name.
type Key struct {
	Kind      Kind   `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// String renders the key as Kind/namespace/name (Kind/name for a Mesh).
func (k Key) String() string {
	if k.Namespace == "" {
		return string(k.Kind) + "/" + k.Name
	}
	return string(k.Kind) + "/" + k.Namespace + "/" + k.Name
}

// Resource is one document: the envelope and its typed spec. Spec holds a
// pointer to the spec type of the kind (*MeshSpec for a Mesh, and so on).
type Resource struct {
	APIVersion string   `json:"apiVersion"`
	Kind       Kind     `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       any      `json:"spec"`
	// Origin says where the document was read from; it is not stored.
	Origin *Origin `json:"-"`
}

// Origin is the file and document index a resource was decoded from, for
// error messages.
type Origin struct {
	File string
	// Index is the document's position in the file, from 0.
	Index int
}

// Key returns the resource's store key.
func (r *Resource) Key() Key {
	return Key{Kind: r.Kind, Namespace: r.Metadata.Namespace, Name: r.Metadata.Name}
}

// NewSpec returns a pointer to a zero spec of the kind, or nil for an
// unknown kind.
func NewSpec(k Kind) any {
	switch k {
	case KindMesh:
		return &MeshSpec{}
	case KindService:
		return &ServiceSpec{}
	case KindWorkload:
		return &WorkloadSpec{}
	case KindRoute:
		return &RouteSpec{}
	case KindTrafficPolicy:
		return &TrafficPolicySpec{}
	case KindAuthorizationPolicy:
		return &AuthorizationPolicySpec{}
	}
	return nil
}

// UnmarshalJSON decodes the envelope, then the spec into the kind's type.
// It is lenient about unknown fields: strict checks with field paths are
// the decoder's job (see Decode); this is for reading back stored JSON.
func (r *Resource) UnmarshalJSON(b []byte) error {
	var env struct {
		APIVersion string          `json:"apiVersion"`
		Kind       Kind            `json:"kind"`
		Metadata   Metadata        `json:"metadata"`
		Spec       json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return err
	}
	spec := NewSpec(env.Kind)
	if spec == nil {
		return fmt.Errorf("unknown kind %q", env.Kind)
	}
	if len(env.Spec) > 0 && string(env.Spec) != "null" {
		if err := json.Unmarshal(env.Spec, spec); err != nil {
			return err
		}
	}
	r.APIVersion, r.Kind, r.Metadata, r.Spec = env.APIVersion, env.Kind, env.Metadata, spec
	return nil
}

// Duration is a Go duration string in YAML ("250ms", "5s", "1h").
type Duration string

// Port protocols a Service port may declare.
const (
	ProtocolHTTP  = "http"
	ProtocolHTTP2 = "http2"
	ProtocolGRPC  = "grpc"
	ProtocolTCP   = "tcp"
)

// mTLS modes of a Mesh.
const (
	MTLSStrict     = "STRICT"
	MTLSPermissive = "PERMISSIVE"
	MTLSDisabled   = "DISABLED"
)

// MeshSpec is the mesh-wide configuration. There is at most one Mesh; when
// none is applied the defaults of DefaultMeshSpec apply.
type MeshSpec struct {
	// TrustDomain is the SPIFFE trust domain, e.g. "example.org".
	TrustDomain string `json:"trustDomain"`
	// MTLS selects STRICT, PERMISSIVE or DISABLED (default STRICT).
	MTLS *MTLS `json:"mtls,omitempty"`
	// CA selects where SVIDs come from (default builtin).
	CA *CA `json:"ca,omitempty"`
	// SVIDTTL is the lifetime of workload certificates (default 1h).
	SVIDTTL Duration `json:"svidTTL,omitempty"`
	// ConfigScoping chooses which services each proxy is sent:
	// ScopingNone (default), ScopingExplicit or ScopingAuto.
	ConfigScoping string `json:"configScoping,omitempty"`
	// SidecarRoutes chooses how Envoy sidecars hold the outbound HTTP
	// routes: RoutesShared (default) or RoutesPerService.
	SidecarRoutes string `json:"sidecarRoutes,omitempty"`
}

// MTLS is the mesh's mutual-TLS setting.
type MTLS struct {
	Mode string `json:"mode"`
}

// CA selects the certificate authority of the mesh.
type CA struct {
	// Type is builtin, provided or spire.
	Type string `json:"type"`
	// CertFile and KeyFile are the root or intermediate for "provided".
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
	// SocketPath is the SPIRE agent's Workload API socket for "spire".
	SocketPath string `json:"socketPath,omitempty"`
}

// ServiceSpec describes a service: its ports, optionally static
// endpoints, and the identities allowed to back it. Workloads that name
// the service add endpoints dynamically, if their service account is
// allowed.
type ServiceSpec struct {
	Ports     []ServicePort    `json:"ports"`
	Endpoints []StaticEndpoint `json:"endpoints,omitempty"`
	// ServiceAccounts names the service accounts (in the Service's
	// namespace) whose workloads may serve it; see AllowedServiceAccounts
	// for the default.
	ServiceAccounts []string `json:"serviceAccounts,omitempty"`
	// Egress lists what the service's workloads call, for config
	// scoping; it adds to each backing Workload's own list.
	Egress []Egress `json:"egress,omitempty"`
}

// ServicePort is one port of a service.
type ServicePort struct {
	// Name identifies the port; workloads map their own ports by name.
	Name string `json:"name"`
	// Port is what clients dial (xds:///svc.ns:PORT).
	Port uint32 `json:"port"`
	// Protocol is http, http2, grpc or tcp.
	Protocol string `json:"protocol"`
	// TargetPort is the endpoints' port when a workload does not name one
	// (default: Port).
	TargetPort uint32 `json:"targetPort,omitempty"`
}

// StaticEndpoint is an endpoint declared on the Service itself.
type StaticEndpoint struct {
	Address  string            `json:"address"`
	Port     uint32            `json:"port,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Locality *Locality         `json:"locality,omitempty"`
	Weight   uint32            `json:"weight,omitempty"`
}

// Locality is where an endpoint runs.
type Locality struct {
	Region  string `json:"region,omitempty"`
	Zone    string `json:"zone,omitempty"`
	SubZone string `json:"subZone,omitempty"`
}

// WorkloadSpec is one instance of one or more services.
type WorkloadSpec struct {
	// Address is the IP the workload receives mesh traffic on.
	Address string `json:"address"`
	// Services lists the services (in the workload's namespace) it backs.
	Services []string `json:"services"`
	// Ports maps service port names to the workload's ports.
	Ports []WorkloadPort `json:"ports,omitempty"`
	// Labels select the workload into Route subsets.
	Labels   map[string]string `json:"labels,omitempty"`
	Locality *Locality         `json:"locality,omitempty"`
	// ServiceAccount names the workload's identity (default
	// DefaultServiceAccount); see Identity.
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// Weight is the endpoint's load-balancing weight (default 1).
	Weight uint32 `json:"weight,omitempty"`
	// Egress lists what the workload calls, for config scoping, with the
	// Egress of the services it backs.
	Egress []Egress `json:"egress,omitempty"`
}

// WorkloadPort is a workload's port for a named service port.
type WorkloadPort struct {
	// Name matches a ServicePort's name.
	Name string `json:"name"`
	// Port is where the workload (its sidecar, or the app when proxyless)
	// receives mesh traffic.
	Port uint32 `json:"port"`
	// AppPort is the local application's port behind a sidecar
	// (default: Port). The sidecar forwards inbound traffic to
	// 127.0.0.1:AppPort. It may not be SidecarOutboundPort.
	AppPort uint32 `json:"appPort,omitempty"`
}

// SidecarOutboundPort is the port every Envoy sidecar listens on at
// 127.0.0.1 for its apps' outbound HTTP and gRPC, so no app behind a
// sidecar may listen there.
const SidecarOutboundPort = 15001

// RouteSpec holds the HTTP/gRPC rules for one service.
type RouteSpec struct {
	// Service is the target service's name, in the Route's namespace.
	Service string `json:"service"`
	// Port restricts the Route to one service port (default: all
	// HTTP-family ports).
	Port uint32 `json:"port,omitempty"`
	// Rules are tried in order; the first match wins.
	Rules []RouteRule `json:"rules"`
}

// RouteRule is one rule: matches, and where matching requests go.
type RouteRule struct {
	Name string `json:"name,omitempty"`
	// Matches are ORed; an empty list matches every request.
	Matches  []RouteMatch `json:"matches,omitempty"`
	Backends []Backend    `json:"backends,omitempty"`
	// Timeout bounds the whole request (default: none).
	Timeout Duration `json:"timeout,omitempty"`
	// IdleTimeout bounds a request's idle time.
	IdleTimeout     Duration        `json:"idleTimeout,omitempty"`
	Retries         *RetryPolicy    `json:"retries,omitempty"`
	Fault           *Fault          `json:"fault,omitempty"`
	Mirror          *Mirror         `json:"mirror,omitempty"`
	RequestHeaders  *HeaderEdits    `json:"requestHeaders,omitempty"`
	ResponseHeaders *HeaderEdits    `json:"responseHeaders,omitempty"`
	Rewrite         *Rewrite        `json:"rewrite,omitempty"`
	Redirect        *Redirect       `json:"redirect,omitempty"`
	DirectResponse  *DirectResponse `json:"directResponse,omitempty"`
	RateLimit       *RateLimit      `json:"rateLimit,omitempty"`
}

// Fault injects delays and aborts into matching requests.
type Fault struct {
	Delay *FaultDelay `json:"delay,omitempty"`
	Abort *FaultAbort `json:"abort,omitempty"`
	// Headers limit the fault to requests carrying them.
	Headers []HeaderMatch `json:"headers,omitempty"`
}

// FaultDelay delays Percent of requests by Fixed.
type FaultDelay struct {
	Fixed   Duration `json:"fixed"`
	Percent float64  `json:"percent"`
}

// FaultAbort answers Percent of requests with an HTTP status or a gRPC
// status (a code name like UNAVAILABLE, or its number).
type FaultAbort struct {
	HTTPStatus uint32  `json:"httpStatus,omitempty"`
	GRPCStatus string  `json:"grpcStatus,omitempty"`
	Percent    float64 `json:"percent"`
}

// Mirror copies Percent of requests to another backend, answers ignored.
type Mirror struct {
	Service string            `json:"service,omitempty"`
	Subset  map[string]string `json:"subset,omitempty"`
	Percent float64           `json:"percent"`
}

// HeaderEdits adds (appends), sets (overwrites) and removes headers.
type HeaderEdits struct {
	Add    map[string]string `json:"add,omitempty"`
	Set    map[string]string `json:"set,omitempty"`
	Remove []string          `json:"remove,omitempty"`
}

// Rewrite changes the path (by prefix or regex) and the host upstream.
type Rewrite struct {
	Prefix string        `json:"prefix,omitempty"`
	Regex  *RegexRewrite `json:"regex,omitempty"`
	Host   string        `json:"host,omitempty"`
}

// RegexRewrite replaces Pattern (RE2) with Substitution.
type RegexRewrite struct {
	Pattern      string `json:"pattern"`
	Substitution string `json:"substitution"`
}

// Redirect answers with a redirect instead of forwarding.
type Redirect struct {
	Scheme       string `json:"scheme,omitempty"`
	Host         string `json:"host,omitempty"`
	Port         uint32 `json:"port,omitempty"`
	Path         string `json:"path,omitempty"`
	ResponseCode uint32 `json:"responseCode,omitempty"`
}

// DirectResponse answers with a fixed status and body.
type DirectResponse struct {
	Status uint32 `json:"status"`
	Body   string `json:"body,omitempty"`
}

// RateLimit is a local token bucket: MaxTokens, refilled by TokensPerFill
// every FillInterval; limited requests get Status (default 429).
type RateLimit struct {
	MaxTokens       uint32            `json:"maxTokens"`
	TokensPerFill   uint32            `json:"tokensPerFill,omitempty"`
	FillInterval    Duration          `json:"fillInterval"`
	Status          uint32            `json:"status,omitempty"`
	ResponseHeaders map[string]string `json:"responseHeaders,omitempty"`
}

// RouteMatch is one match; its conditions are ANDed.
type RouteMatch struct {
	Path        *PathMatch        `json:"path,omitempty"`
	Headers     []HeaderMatch     `json:"headers,omitempty"`
	QueryParams []QueryParamMatch `json:"queryParams,omitempty"`
	// Method matches the HTTP method (:method).
	Method string `json:"method,omitempty"`
	// GRPC matches a gRPC service and optionally one method.
	GRPC *GRPCMatch `json:"grpc,omitempty"`
}

// PathMatch matches the request path exactly, by prefix or by an RE2
// regular expression; exactly one is set.
type PathMatch struct {
	Exact  string `json:"exact,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	Regex  string `json:"regex,omitempty"`
}

// HeaderMatch matches one request header with exactly one of Exact,
// Prefix, Suffix, Regex, Present or Absent; Invert negates the match.
type HeaderMatch struct {
	Name    string `json:"name"`
	Exact   string `json:"exact,omitempty"`
	Prefix  string `json:"prefix,omitempty"`
	Suffix  string `json:"suffix,omitempty"`
	Regex   string `json:"regex,omitempty"`
	Present bool   `json:"present,omitempty"`
	Absent  bool   `json:"absent,omitempty"`
	Invert  bool   `json:"invert,omitempty"`
}

// QueryParamMatch matches one query parameter with exactly one of Exact,
// Regex or Present.
type QueryParamMatch struct {
	Name    string `json:"name"`
	Exact   string `json:"exact,omitempty"`
	Regex   string `json:"regex,omitempty"`
	Present bool   `json:"present,omitempty"`
}

// GRPCMatch matches /Service/Method, or every method of Service when
// Method is empty.
type GRPCMatch struct {
	Service string `json:"service"`
	Method  string `json:"method,omitempty"`
}

// Backend is a weighted destination: a label subset of the Route's service
// or of another service in the namespace.
type Backend struct {
	// Service defaults to the Route's service.
	Service string `json:"service,omitempty"`
	// Subset selects workloads by labels (empty: every endpoint).
	Subset map[string]string `json:"subset,omitempty"`
	// Weight is relative to the rule's other backends (default 1 when
	// there is one backend).
	Weight *int32 `json:"weight,omitempty"`
}

// RetryPolicy says how a failed request is retried.
type RetryPolicy struct {
	Attempts      uint32   `json:"attempts"`
	PerTryTimeout Duration `json:"perTryTimeout,omitempty"`
	// RetryOn lists Envoy retry conditions (5xx, gateway-error, reset,
	// connect-failure, retriable-4xx) and gRPC codes (cancelled,
	// deadline-exceeded, internal, resource-exhausted, unavailable).
	RetryOn []string `json:"retryOn,omitempty"`
	// RetriableStatusCodes are HTTP statuses that are retried.
	RetriableStatusCodes []uint32      `json:"retriableStatusCodes,omitempty"`
	Backoff              *RetryBackoff `json:"backoff,omitempty"`
}

// RetryBackoff is the exponential backoff between retries.
type RetryBackoff struct {
	Base Duration `json:"base"`
	Max  Duration `json:"max,omitempty"`
}

// TrafficPolicySpec holds per-service connection settings.
type TrafficPolicySpec struct {
	// Service is the target service's name, in the policy's namespace.
	Service          string            `json:"service"`
	LoadBalancer     *LoadBalancer     `json:"loadBalancer,omitempty"`
	ConnectTimeout   Duration          `json:"connectTimeout,omitempty"`
	ConnectionPool   *ConnectionPool   `json:"connectionPool,omitempty"`
	OutlierDetection *OutlierDetection `json:"outlierDetection,omitempty"`
	Locality         *LocalityPolicy   `json:"locality,omitempty"`
	// RateLimit applies on the inbound side of the service's workloads.
	RateLimit   *RateLimit   `json:"rateLimit,omitempty"`
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`
}

// ConnectionPool bounds connections and requests (circuit breaking).
type ConnectionPool struct {
	MaxConnections     uint32        `json:"maxConnections,omitempty"`
	MaxPendingRequests uint32        `json:"maxPendingRequests,omitempty"`
	MaxRequests        uint32        `json:"maxRequests,omitempty"`
	MaxRetries         uint32        `json:"maxRetries,omitempty"`
	HTTP2              bool          `json:"http2,omitempty"`
	TCPKeepalive       *TCPKeepalive `json:"tcpKeepalive,omitempty"`
}

// TCPKeepalive configures keepalive probes on upstream connections.
type TCPKeepalive struct {
	Time     Duration `json:"time,omitempty"`
	Interval Duration `json:"interval,omitempty"`
	Probes   uint32   `json:"probes,omitempty"`
}

// OutlierDetection ejects failing endpoints.
type OutlierDetection struct {
	Consecutive5xx           uint32   `json:"consecutive5xx,omitempty"`
	ConsecutiveGatewayErrors uint32   `json:"consecutiveGatewayErrors,omitempty"`
	Interval                 Duration `json:"interval,omitempty"`
	BaseEjectionTime         Duration `json:"baseEjectionTime,omitempty"`
	MaxEjectionPercent       uint32   `json:"maxEjectionPercent,omitempty"`
}

// LocalityPolicy weights localities and orders failover between regions.
// The failover order is explicit (not relative to each proxy), which keeps
// outbound configuration shared by every sidecar.
type LocalityPolicy struct {
	Weighted bool             `json:"weighted,omitempty"`
	Failover []LocalityTarget `json:"failover,omitempty"`
}

// LocalityTarget is one step of a failover order.
type LocalityTarget struct {
	Region string `json:"region"`
	Zone   string `json:"zone,omitempty"`
}

// HealthCheck actively checks endpoints with exactly one of HTTP, GRPC, TCP.
type HealthCheck struct {
	Interval           Duration         `json:"interval"`
	Timeout            Duration         `json:"timeout"`
	UnhealthyThreshold uint32           `json:"unhealthyThreshold,omitempty"`
	HealthyThreshold   uint32           `json:"healthyThreshold,omitempty"`
	HTTP               *HTTPHealthCheck `json:"http,omitempty"`
	GRPC               *GRPCHealthCheck `json:"grpc,omitempty"`
	TCP                *TCPHealthCheck  `json:"tcp,omitempty"`
}

// HTTPHealthCheck probes Path.
type HTTPHealthCheck struct {
	Path string `json:"path"`
}

// GRPCHealthCheck uses grpc.health.v1 for Service ("" = the server).
type GRPCHealthCheck struct {
	Service string `json:"service,omitempty"`
}

// TCPHealthCheck only connects.
type TCPHealthCheck struct{}

// Load-balancing policies.
const (
	LBRoundRobin   = "ROUND_ROBIN"
	LBLeastRequest = "LEAST_REQUEST"
	LBRandom       = "RANDOM"
	LBRingHash     = "RING_HASH"
	LBMaglev       = "MAGLEV"
)

// LoadBalancer selects how a service's endpoints are picked.
type LoadBalancer struct {
	Policy string `json:"policy"`
	// HashHeader, HashCookie or HashSourceIP is the hash key of RING_HASH
	// and MAGLEV; exactly one is set for those policies.
	HashHeader   string      `json:"hashHeader,omitempty"`
	HashCookie   *HashCookie `json:"hashCookie,omitempty"`
	HashSourceIP bool        `json:"hashSourceIP,omitempty"`
	RingHash     *RingHash   `json:"ringHash,omitempty"`
}

// HashCookie hashes on a cookie, generated with TTL when absent.
type HashCookie struct {
	Name string   `json:"name"`
	TTL  Duration `json:"ttl,omitempty"`
}

// RingHash sizes the hash ring.
type RingHash struct {
	MinRingSize uint64 `json:"minRingSize,omitempty"`
	MaxRingSize uint64 `json:"maxRingSize,omitempty"`
}

// AuthorizationPolicySpec is Rego authorization for target services.
type AuthorizationPolicySpec struct {
	Targets Targets `json:"targets"`
	// Modules are Rego sources, each with a file name for error locations.
	Modules []RegoModule `json:"modules"`
	// Data is JSON made available as data.* to the policy.
	Data json.RawMessage `json:"data,omitempty"`
	// Query defaults to data.envoy.authz.allow.
	Query string `json:"query,omitempty"`
	// Mode is PolicyEnforce (default) or PolicyDryRun.
	Mode string `json:"mode,omitempty"`
	// FailureMode is FailureDeny (default) or FailureAllow.
	FailureMode string `json:"failureMode,omitempty"`
	// RegoVersion is v1 (default) or v0.
	RegoVersion string `json:"regoVersion,omitempty"`
	// JWTProviders verify end users' tokens before the policy decides: a
	// request carrying an invalid token is refused with 401, and a valid
	// token's claims are in the input at
	// attributes.metadataContext.filterMetadata["envoy.filters.http.jwt_authn"][<name>].
	JWTProviders []JWTProvider `json:"jwtProviders,omitempty"`
	// AllowNetwork lets the Rego call http.send and net.lookup_ip_addr.
	// Only the workload's agent evaluates them; the control plane never
	// runs such a policy's Rego (see docs/authorization.md for the risk).
	AllowNetwork bool `json:"allowNetwork,omitempty"`
}

// JWTProvider is one issuer of end-user JWTs. Its keys are given inline
// (JWKS) or at a URL (JWKSURL) that the control plane fetches, caches and
// pushes, so proxies never fetch keys themselves.
type JWTProvider struct {
	// Name is a DNS label, unique in the policy; claims are found under it.
	Name string `json:"name"`
	// Issuer must equal the token's iss claim.
	Issuer string `json:"issuer"`
	// Audiences, when any, must include one of the token's aud values.
	Audiences []string `json:"audiences,omitempty"`
	// JWKS is the key set as a JSON object or a string of JSON.
	JWKS json.RawMessage `json:"jwks,omitempty"`
	// JWKSURL is an http(s) URL serving the key set.
	JWKSURL string `json:"jwksURL,omitempty"`
	// FromHeader names the header carrying the token; the default is
	// authorization, with the "Bearer " prefix.
	FromHeader string `json:"fromHeader,omitempty"`
	// Forward keeps the token header on the request sent upstream; by
	// default it is removed once verified.
	Forward bool `json:"forward,omitempty"`
}

// Targets selects the workloads a policy applies to.
type Targets struct {
	Services []string       `json:"services,omitempty"`
	Selector *LabelSelector `json:"selector,omitempty"`
}

// LabelSelector selects workloads whose labels include MatchLabels.
type LabelSelector struct {
	MatchLabels map[string]string `json:"matchLabels"`
}

// RegoModule is one Rego source file.
type RegoModule struct {
	Name string `json:"name"`
	Rego string `json:"rego"`
}

// DefaultQuery is the authorization query when a policy names none; it is
// the OPA-Envoy plugin's default so its users' policies run unchanged.
const DefaultQuery = "data.envoy.authz.allow"
