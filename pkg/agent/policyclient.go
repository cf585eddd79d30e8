package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/hashicorp/go-hclog"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/policy/compile"
)

// policyUserAgent is the user agent of the policy client's xDS stream; its
// node metadata's dataplane.FlavourAgent is what tells the agent apart
// from the workload's Envoy, which shares its node id.
const policyUserAgent = "embassy-agent"

// XDSDialFunc opens a connection to the control plane's xDS server that
// presents id's SVID (see DialPolicyXDS).
type XDSDialFunc func(ctx context.Context, id *Identity) (*grpc.ClientConn, error)

// PolicyClientConfig configures a PolicyClient.
type PolicyClientConfig struct {
	// Node is the workload's node id, "<workload>.<namespace>".
	Node string
	// Dial connects to the control plane's xDS server.
	Dial XDSDialFunc
	// Identity, when set, supplies the identity each connection is dialled
	// with; a new SVID ends the stream and a new connection presents it,
	// since TLS sends a client certificate only in the handshake.
	Identity IdentityWatcher
	// Authz receives the policies of every response.
	Authz *Authz
	// Logger defaults to a null logger.
	Logger hclog.Logger
	// MinBackoff and MaxBackoff bound the waits between failed streams
	// (defaults 1s and 30s).
	MinBackoff, MaxBackoff time.Duration
}

// PolicyClient keeps a SotW ADS stream to the control plane subscribed
// (wildcard) to the TypedExtensionConfigs of its node, hands every
// response's authorization bundles to Authz, and ACKs the response when
// all loaded or NACKs it, naming each policy that failed, its revision and
// why. Policies that failed keep deciding with their last good revision.
type PolicyClient struct {
	cfg PolicyClientConfig
	log hclog.Logger
}

// NewPolicyClient returns a PolicyClient; nothing runs until Run.
func NewPolicyClient(cfg PolicyClientConfig) *PolicyClient {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	return &PolicyClient{cfg: cfg, log: cfg.Logger}
}

// errRotated ends a stream whose connection presents an old SVID.
var errRotated = errors.New("the SVID rotated")

// Run keeps the stream open until ctx is done, reconnecting with backoff
// after failures and at once after a rotation.
func (c *PolicyClient) Run(ctx context.Context) {
	backoff := c.cfg.MinBackoff
	for {
		id, changed := c.identity()
		if id != nil && id.SVID == nil {
			// Expired, and no renewal yet: there is nothing to present.
			select {
			case <-ctx.Done():
				return
			case <-changed:
				continue
			}
		}
		answered, err := c.stream(ctx, id, changed)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errRotated) {
			c.log.Debug("reconnecting with the rotated SVID")
			backoff = c.cfg.MinBackoff
			continue
		}
		if answered {
			backoff = c.cfg.MinBackoff
		}
		c.log.Warn("the policy stream to the control plane ended; reconnecting", "error", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, c.cfg.MaxBackoff)
	}
}

func (c *PolicyClient) identity() (*Identity, <-chan struct{}) {
	if c.cfg.Identity == nil {
		return nil, nil
	}
	return c.cfg.Identity.Watch()
}

// stream runs one ADS stream until it fails or the SVID rotates;
// answered says whether any response arrived.
func (c *PolicyClient) stream(ctx context.Context, id *Identity, changed <-chan struct{}) (answered bool, err error) {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	conn, err := c.cfg.Dial(sctx, id)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	if id != nil {
		go c.watchRotation(sctx, id, changed, cancel)
	}
	st, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(sctx)
	if err != nil {
		return false, streamErr(sctx, err)
	}
	req := &discovery.DiscoveryRequest{Node: c.node(), TypeUrl: resourcev3.ExtensionConfigType}
	if err := st.Send(req); err != nil {
		return false, streamErr(sctx, err)
	}
	acked := ""
	for {
		resp, err := st.Recv()
		if err != nil {
			return answered, streamErr(sctx, err)
		}
		answered = true
		if resp.GetTypeUrl() != resourcev3.ExtensionConfigType {
			continue
		}
		req := &discovery.DiscoveryRequest{Node: c.node(), TypeUrl: resp.GetTypeUrl(), ResponseNonce: resp.GetNonce(), VersionInfo: acked}
		ups, bad := decodePolicies(resp)
		if err := errors.Join(bad, c.cfg.Authz.Update(ups)); err != nil {
			c.log.Error("NACK: a policy failed to load", "version", resp.GetVersionInfo(), "error", err)
			req.ErrorDetail = &rpcstatus.Status{Code: int32(codes.InvalidArgument), Message: err.Error()}
		} else {
			acked = resp.GetVersionInfo()
			req.VersionInfo = acked
			c.log.Info("policies loaded", "version", acked, "policies", len(resp.GetResources()))
		}
		if err := st.Send(req); err != nil {
			return answered, streamErr(sctx, err)
		}
	}
}

// watchRotation ends the stream when an SVID other than id's is published.
func (c *PolicyClient) watchRotation(ctx context.Context, id *Identity, changed <-chan struct{}, cancel context.CancelCauseFunc) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		var cur *Identity
		cur, changed = c.cfg.Identity.Watch()
		// An expired SVID (nil) keeps the connection: a new one could
		// present nothing better.
		if cur.SVID != nil && cur.SVID != id.SVID {
			cancel(errRotated)
			return
		}
	}
}

// streamErr prefers the reason the stream was cancelled for.
func streamErr(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	return err
}

func (c *PolicyClient) node() *core.Node {
	return &core.Node{
		Id:            c.cfg.Node,
		UserAgentName: policyUserAgent,
		Metadata: &structpb.Struct{Fields: map[string]*structpb.Value{
			dataplane.FlavourKey: structpb.NewStringValue(dataplane.FlavourAgent),
		}},
	}
}

// decodePolicies reads the bundle of every authorization resource of
// resp; other extension configs are not the agent's and are skipped. A
// resource that is no TypedExtensionConfig names no policy, so it is only
// reported (bad), for the NACK.
func decodePolicies(resp *discovery.DiscoveryResponse) (ups []PolicyUpdate, bad error) {
	var errs []error
	for _, res := range resp.GetResources() {
		ec := &core.TypedExtensionConfig{}
		if err := res.UnmarshalTo(ec); err != nil {
			errs = append(errs, fmt.Errorf("a resource of type %s is not a TypedExtensionConfig: %v", res.GetTypeUrl(), err))
			continue
		}
		if !strings.HasPrefix(ec.GetName(), dataplane.AuthzExtensionPrefix) {
			continue
		}
		ups = append(ups, decodePolicy(ec))
	}
	return ups, errors.Join(errs...)
}

// decodePolicy reads one policy's bundle; a failure names the policy and
// the revision the bundle claims.
func decodePolicy(ec *core.TypedExtensionConfig) PolicyUpdate {
	up := PolicyUpdate{Name: ec.GetName()}
	name := strings.TrimPrefix(up.Name, dataplane.AuthzExtensionPrefix)
	bv := &wrapperspb.BytesValue{}
	if err := ec.GetTypedConfig().UnmarshalTo(bv); err != nil {
		up.Err = fmt.Errorf("policy %s: typed_config is not a google.protobuf.BytesValue holding a bundle: %v", name, err)
		return up
	}
	b := &compile.Bundle{}
	if err := json.Unmarshal(bv.GetValue(), b); err != nil {
		var claimed struct {
			Revision string `json:"revision"`
		}
		_ = json.Unmarshal(bv.GetValue(), &claimed)
		up.Err = fmt.Errorf("policy %s revision %s: the bundle does not decode: %v", name, claimed.Revision, err)
		return up
	}
	if b.Name() != name {
		// Decisions are logged and counted under the bundle's name, so
		// one that claims another policy's name is refused.
		up.Err = fmt.Errorf("policy %s revision %s: the bundle is named %q", name, b.Revision(), b.Name())
		return up
	}
	up.Bundle = b
	return up
}
