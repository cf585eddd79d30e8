package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/cli"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/whatif"
)

func newCheckCmd(g *globals) *cobra.Command {
	var (
		q       whatif.Query
		headers []string
		offline bool
		files   []string
		output  string
	)
	cmd := &cobra.Command{
		Use:   "check --from SPIFFE-ID --to SERVICE[.NS][:PORT] [--method M] [--path P] [--header k=v]",
		Short: "Say what the mesh would do with one request",
		Long: `check answers "what if this caller sent this request?": whether the
caller's proxy is sent the destination at all under the Mesh's config
scoping (a call it was never sent fails in the caller, reported as "not in
the caller's config: <reason>", the reason describe proxy gives), the route rule
and weighted backends the caller's proxy would choose (first match wins, as
the proxies apply them), whether the hop is mutual TLS, and the decision of
every AuthorizationPolicy targeting the destination's workloads, with the
policy's revision and the reason its Rego gave. Policies are evaluated on
the same input document the agent's ext_authz server builds.

By default the control plane answers over its current mesh. With --offline
the resources come from -f files or directories and nothing is contacted,
so a change can be checked before it is applied. Offline, configScoping
auto cannot read which callers a policy's RBAC allows (the control plane
compiles that), so it keeps every service a policy guards; spec.egress
lists narrow as they do online.

Exit codes: 0 the request would reach the service; 1 it would not (or
check failed).`,
		Example: `  embassyctl check --from spiffe://bookstore.example/ns/shop/sa/checkout \
      --to payments.shop --method POST --path /bookstore.payments.v1.Payments/Charge
  embassyctl check --offline -f examples/bookstore/ --from ... --to reviews.shop -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != cli.OutputTable && output != cli.OutputJSON {
				return fmt.Errorf("-o %q: expected table or json", output)
			}
			q.Headers = map[string]string{}
			for _, h := range headers {
				k, v, ok := strings.Cut(h, "=")
				if !ok || k == "" {
					return fmt.Errorf("--header %q: expected name=value", h)
				}
				q.Headers[strings.ToLower(k)] = v
			}
			var a *whatif.Answer
			var err error
			if offline {
				a, err = checkOffline(cmd, files, q)
			} else {
				if len(files) > 0 {
					return errors.New("-f is only for --offline: the control plane answers over what it stores")
				}
				c, cerr := g.client()
				if cerr != nil {
					return cerr
				}
				a, err = c.Check(cmd.Context(), q)
			}
			if err != nil {
				return err
			}
			if output == cli.OutputJSON {
				b, _ := json.MarshalIndent(a, "", "  ")
				fmt.Fprintln(g.stdout, string(b))
			} else {
				fmt.Fprint(g.stdout, a.Summary())
			}
			if !a.Allowed {
				return &cli.ExitError{Code: cli.ExitFailure, Silent: true}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.From, "from", "", "the caller's SPIFFE ID (empty: a caller without one)")
	f.StringVar(&q.To, "to", "", "destination service: svc[.namespace][:port]")
	f.StringVar(&q.Method, "method", "GET", "HTTP method")
	f.StringVar(&q.Path, "path", "/", "request path, with any query string")
	f.StringArrayVar(&headers, "header", nil, "request header name=value (repeatable)")
	f.BoolVar(&offline, "offline", false, "answer from -f files without a control plane")
	f.StringArrayVarP(&files, "filename", "f", nil, "with --offline: YAML file or directory holding the mesh (repeatable)")
	f.StringVarP(&output, "output", "o", cli.OutputTable, "table or json")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// checkOffline answers over resources read from files, compiling the
// policies locally as the control plane would.
func checkOffline(cmd *cobra.Command, files []string, q whatif.Query) (*whatif.Answer, error) {
	if len(files) == 0 {
		return nil, errors.New("--offline needs -f with the mesh's YAML files or directories")
	}
	var all []*resource.Resource
	for _, f := range files {
		rs, err := resource.DecodePath(f)
		if err != nil {
			return nil, err
		}
		all = append(all, rs...)
	}
	return whatif.Check(cmd.Context(), mesh.New(0, all), q, whatif.Options{})
}
