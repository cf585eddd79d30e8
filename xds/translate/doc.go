// Naming and shape of the output. The golden files in testdata/out pin
// every name below; the xDS cache and the bootstraps rely on them.
//
// # Clusters and endpoints
//
// A service port's cluster is "outbound|<port>||<svc>.<ns>"; a label subset
// of it is "outbound|<port>|<subset>|<svc>.<ns>", where <subset> is the
// sorted labels "k=v,k2=v2". Every service port gets its whole-service
// cluster; subset clusters exist only when a Route references them. All are
// EDS clusters over ADS, each with a ClusterLoadAssignment of the same name
// whose endpoints are those matching the subset labels, grouped by locality
// (region, zone, subzone), sorted. Every locality carries the sum of its
// endpoints' weights, because gRPC drops a locality without one.
//
// A TrafficPolicy sets lb_policy and connect_timeout (default 5s), and
// (hashpolicy.go) ring_hash_lb_config; (circuitbreaker.go)
// circuit_breakers at the default priority; (outlier.go)
// outlier_detection with success-rate ejection off; (locality.go)
// common_lb_config.locality_weighted_lb_config, and failover priorities on
// the ClusterLoadAssignment: a locality takes the index of the first
// failover step it falls in, unlisted ones come last, renumbered from 0
// without gaps (gRPC refuses gaps); (healthcheck.go) health_checks, only
// on ports where the check can run (gRPC checks need HTTP/2, HTTP checks
// an HTTP port);
// (upstream.go) upstream_connection_options.tcp_keepalive and explicit
// HTTP/2 protocol options. Proxyless gRPC accepts only ROUND_ROBIN,
// RING_HASH and LEAST_REQUEST; anything else becomes ROUND_ROBIN and a
// Diagnostic. Proxyless clusters carry only what grpc-go reads (lb policy,
// ring sizes, max_requests, outlier_detection, priorities); every other
// setting becomes a Diagnostic. Envoy clusters of http2 and grpc ports get
// explicit HTTP/2 upstream protocol options; proxyless clusters do not, as
// gRPC ignores them.
//
// # Routes
//
// Each HTTP-family service port has a virtual host "<svc>.<ns>:<port>". Its
// routes are the rules of the Routes targeting the service (by Route name,
// then rule order; first match wins), a rule with several matches becoming
// several routes. A port no Route applies to gets one catch-all route to
// its whole-service cluster. Backends become a cluster, or
// weighted_clusters when there are several. A backend on another service
// goes to that service's port of the same number, else its first
// HTTP-family port. A rule's timeout sets route.timeout and, for proxyless
// clients, max_stream_duration, which is what gRPC honours. Envoy routes
// without a timeout disable Envoy's 15s default, which would cut gRPC
// streams.
//
// One file per feature shapes a route: match.go (safe_regex paths,
// string_match headers, presence as present_match with invert_match for
// absence, query_parameters, ":method", gRPC services as paths),
// retry.go, fault.go (typed_per_filter_config["envoy.filters.http.fault"]),
// mirror.go (request_mirror_policies; the mirror's cluster is resolved
// like a backend, so its subset cluster is generated), headers.go
// (request/response_headers_to_add/remove on the route), rewrite.go
// (prefix_rewrite, regex_rewrite, host_rewrite_literal, redirect,
// direct_response) and ratelimit.go (typed_per_filter_config
// ["envoy.filters.http.local_ratelimit"]). Hash policies follow the target
// services' TrafficPolicies (header, cookie, source IP).
//
// # Filters
//
// The sidecars' outbound HCM runs fault, local_ratelimit, router; both
// filters do nothing unless a route configures them, so adding a fault or
// limit changes a route and never a listener. A proxyless api_listener
// runs fault and router (gRPC has no local rate limit and NACKs an HCM
// naming a filter it does not know). An inbound HCM gets a local_ratelimit
// before its router when the service's TrafficPolicy sets a rateLimit.
// Every Envoy HCM, inbound and outbound, normalizes paths (normalize_path,
// merge_slashes) and refuses escaped slashes before any filter runs
// (pathnorm.go), so routes and authorization decide on the path the
// application acts on. Header values are escaped for Envoy's substitution
// formatter ('%' as "%%"), so they are sent as written.
//
// # Envoy sidecars
//
// Outbound, shared by every sidecar: one listener "outbound_http" on
// 127.0.0.1:15001. Apps send requests there, HTTP proxy style, with Host
// "<svc>.<ns>:<port>" (or "<svc>.<ns>" for the service's first HTTP-family
// port: Envoy refuses a domain shared by two virtual hosts). By default
// (Mesh spec.sidecarRoutes: shared) its HCM takes one RouteConfiguration
// "outbound_http" over RDS, holding every HTTP-family service port's
// virtual host: the fewest resources, but a route change resends them
// all. With sidecarRoutes: perService its HCM picks a RouteConfiguration
// per request through Scoped RDS (srds.go): each
// service with an HTTP-family port has a ScopedRouteConfiguration
// "outbound_http|<svc>.<ns>" whose key is "<svc>.<ns>", naming the
// RouteConfiguration "outbound_http|<svc>.<ns>" that holds a virtual host
// per such port, with the domains above. The key is the request's
// :authority (where Envoy also keeps an HTTP/1.1 Host) up to its first
// ':', so both Host forms select the service's scope; a Host that
// selects no scope (an unknown service, or one config scoping hides) gets
// a 404, as an unknown virtual host does. Envoy subscribes to the scopes
// as a wildcard and applies a State of the World scope response as the
// complete set; a change to one service's routes resends that service's
// RouteConfiguration alone. One listener for all services means a new
// service changes routes (and adds a scope) and never rebinds a socket.
//
// Each tcp port of a service gets a listener
// "outbound_tcp|<port>|<svc>.<ns>" on the service's TCPAddress, a loopback
// IP in 127.64.0.0/10 derived from "<svc>.<ns>": a tcp connection cannot
// say which service it wants, so its destination address does, and
// services may share a port. It is never 127.0.0.1, where apps listen, so
// a sidecar never binds the socket of an app on its node. Two services
// whose addresses coincide on a port get none, with a Diagnostic.
//
// Inbound, per sidecar: for each port of the services its workload backs, a
// listener "inbound|<port>" on the workload's address, forwarding to a
// STATIC cluster "inbound|<port>" at 127.0.0.1:<appPort>, through an HCM
// with an inline route for HTTP-family ports and a TCP proxy otherwise.
// A workload whose address is 127.0.0.1 (or a wildcard) gets no listener
// on a port where one of its apps listens: the sidecar would take the
// app's socket, and forward to itself when it is the port's own app. A
// Diagnostic names spec.ports[].appPort. Proxyless servers listen where
// the Workload says and are unaffected.
//
// # Proxyless gRPC clients
//
// A client dialing xds:///<svc>.<ns>:<port> asks for a Listener and a
// RouteConfiguration named exactly "<svc>.<ns>:<port>": the Listener holds
// an api_listener HCM (with stat_prefix, which Envoy's validation demands)
// using RDS over ADS and ending with the router filter. Proxyless clients
// get no tcp clusters.
//
// # Proxyless gRPC servers
//
// A proxyless node whose id "<workload>.<namespace>" names a Workload is an
// xDS-enabled gRPC server: per HTTP-family port it serves, it gets a
// Listener "grpc/server?xds.resource.listening_address=<ip>:<port>" bound
// to that address, whose one filter chain holds an HCM with an inline
// route (virtual host "*", NonForwardingAction) ending with the router.
//
// # Mutual TLS
//
// The Mesh's mTLS mode decides, in transport_socket.go. DISABLED is
// plaintext. STRICT gives inbound listeners a DownstreamTlsContext that
// requires a client certificate of the trust domain, and clusters an
// UpstreamTlsContext accepting only the SPIFFE IDs
// spiffe://<td>/ns/<ns>/sa/<sa> of the service's endpoints (sorted; only
// the trust domain, with a Diagnostic, when a static endpoint has no
// identity), with sni "<svc>.<ns>" and alpn h2 on http2 and grpc ports.
// PERMISSIVE adds the TLS inspector (continuing to the plaintext chain after
// 1s without bytes, for server-first protocols) and an mTLS copy of each
// inbound filter chain matching transport_protocol "tls" before the
// plaintext one; clusters
// are as in STRICT, since every member accepts mTLS. Sidecars take the
// certificate ("default") and trust bundle ("ROOTCA") over SDS from the
// agent through the bootstrap's "embassy_sds" cluster; no key or
// certificate is ever in a served resource. Proxyless gRPC uses its
// bootstrap's certificate provider "default" instead: clusters match the
// SPIFFE IDs with match_subject_alt_names, servers only require a client
// certificate (gRPC refuses SAN matching on servers), and PERMISSIVE
// servers accept TLS with an optional client certificate, since gRPC can
// neither inspect for TLS nor match transport_protocol "tls".
//
// # Authorization
//
// authz.go applies the AuthorizationPolicies targeting a workload (same
// namespace; it backs one of targets.services or carries every label of
// targets.selector.matchLabels) to every inbound HTTP listener of it.
// Policies come compiled (mesh.WithAuthz): each filter sits before the
// rate limit and the router, in policy name order.
//
//   - Envoy sidecar, enforce, compiled to RBAC: an RBAC filter
//     "envoy.filters.http.rbac/<ns>/<policy>" holding the rules; the
//     sidecar decides alone. Several policies are several filters, and
//     all must allow.
//   - Envoy sidecar, otherwise (RBAC cannot express it, dry-run, or no
//     compiler ran): one "envoy.filters.http.ext_authz" filter calling the
//     agent over gRPC through the bootstrap's static cluster
//     "embassy_authz" (the agent's authz.sock), transport V3, timeout
//     200ms (extauthz.go). failure_mode_allow is true only when every
//     policy the agent decides is dry-run or failureMode allow, so an
//     unreachable agent never turns a dry-run into a deny. Up to 8KiB of
//     request body (partial allowed) goes along only when such a policy's
//     Rego mentions "body", and never on grpc ports, where Envoy would hold
//     streaming calls until their end. Dry-run always takes this path, so
//     the agent can log what it would deny and allow it.
//   - Proxyless gRPC server: gRPC has no ext_authz, only RBAC. A compiled,
//     enforced policy is an RBAC filter as above. One RBAC cannot express
//     is reported ("cannot be enforced on proxyless gRPC servers") and, as
//     it is enforced, becomes an RBAC filter with no policies, which denies
//     every call: fail closed. A dry-run policy is reported and not
//     applied, since gRPC cannot report what it would deny.
//   - A policy that no longer compiles is reported and, when enforced,
//     denies everything.
//   - JWT providers (jwt.go): on an Envoy sidecar, an
//     "envoy.filters.http.jwt_authn" filter comes before every
//     authorization filter, with each provider's resolved key set inline
//     (local_jwks; proxies never fetch), payload_in_metadata <provider
//     name>, 60s clock skew and the rule requires_any of every provider
//     plus allow_missing (allow_missing_or_failed when only dry-run
//     policies name providers): a request with a bad token gets 401, one
//     without a token goes on to the policies. The ext_authz filter then
//     forwards the envoy.filters.http.jwt_authn metadata namespace, so Rego
//     reads the claims. Proxyless servers cannot verify tokens: an
//     enforced policy with providers is reported and denies every call.
//
// Every targeted workload's node (sidecar or proxyless server) is also sent
// one TypedExtensionConfig per policy, named
// "embassy.authz/<namespace>/<policy>", whose typed_config is a
// google.protobuf.BytesValue holding the compiled bundle's JSON, for its
// agent's ext_authz server. The xDS cache versions these by bundle
// revision.
//
// # Diagnostics
//
// Problems that leave the rest of the mesh servable (a subset with no
// endpoints, an unknown backend, an ambiguous tcp port) become Diagnostics
// naming the mesh resource at fault, sorted and without duplicates, rather
// than errors that would stop every proxy's update.
package translate
