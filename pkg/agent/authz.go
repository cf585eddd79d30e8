package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/genproto/googleapis/rpc/code"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
	"embassy.dev/embassy/policy/extauthz"
)

// PolicyUpdate is one policy of a control plane response: the bundle it
// carries, or why that could not be read.
type PolicyUpdate struct {
	// Name is the resource name, dataplane.AuthzExtensionPrefix + "<namespace>/<policy>".
	Name string
	// Bundle is the decoded bundle; nil when Err is set.
	Bundle *compile.Bundle
	// Err says why the resource could not be decoded.
	Err error
}

// Authz is the agent's ext_authz server. Every policy that targets the
// workload has its own engine and its own extauthz.Server (so each
// decision is logged and counted by the policy and revision that made
// it), and a request passes only when every policy lets it: the first
// denial, in policy name order, is the answer. Dry-run policies never
// deny; extauthz logs their would-deny.
//
// Before the control plane's first answer Authz denies every request
// (fail closed: it cannot know whether policies exist). Once the control
// plane says no policy targets the workload, every request is allowed:
// there is nothing to enforce, and Envoy only calls us when a policy
// exists. A policy that is known but has never loaded denies (its engine
// has no revision), while one whose newer revision failed to load keeps
// deciding with its last good revision.
//
// Authz is safe for concurrent use; Check never waits for Update.
type Authz struct {
	authv3.UnimplementedAuthorizationServer

	log       hclog.Logger
	opts      extauthz.Options
	decisions *extauthz.DecisionLog // shared by every policy's server
	// started is when counting began, the Since of every report.
	started time.Time

	mu       sync.RWMutex
	synced   bool           // a response from the control plane arrived
	policies []*authzPolicy // sorted by name; replaced, never edited in place
	byName   map[string]*authzPolicy
	unsynced atomic.Uint64 // requests denied before the first response

	grpc *extauthz.GRPCServer
}

// authzPolicy is one policy's engine and Check server.
type authzPolicy struct {
	name   string // "<namespace>/<policy>"
	engine *engine.Engine
	check  *extauthz.Server

	// loadErr is the reason the last received revision did not load;
	// guarded by Authz.mu.
	loadErr string
}

// NewAuthz returns an Authz that denies until its first Update. Each
// denial and error is logged through log (one structured line per
// policy), and a sample share (0 to 1) of the allows, with the values of
// only the headers named in logHeaderValues; lines are written off the
// Check path (extauthz.DecisionLog). When jsonOut is set, log writes JSON
// to it and the lines are encoded by hand (extauthz.NewDecisionLogJSON).
// timeout bounds the evaluation of all policies of one Check together
// (extauthz.DefaultTimeout when zero).
func NewAuthz(log hclog.Logger, jsonOut io.Writer, logHeaderValues []string, sample float64, timeout time.Duration) *Authz {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	hs := make([]string, 0, len(logHeaderValues))
	for _, h := range logHeaderValues {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			hs = append(hs, h)
		}
	}
	if timeout <= 0 {
		timeout = extauthz.DefaultTimeout
	}
	dl := extauthz.NewDecisionLogJSON(log, jsonOut, hs, sample)
	a := &Authz{
		log: log, decisions: dl, opts: extauthz.Options{DecisionLog: dl, Timeout: timeout},
		started: time.Now().UTC(), byName: map[string]*authzPolicy{},
	}
	a.grpc = extauthz.NewGRPCServer(a)
	return a
}

// Update makes the policies of one control plane response the ones that
// decide: each is loaded into its own engine, policies missing from ups
// are dropped. A policy that fails to load keeps its last good revision;
// the error names every policy that failed, its revision and why, for
// the NACK.
func (a *Authz) Update(ups []PolicyUpdate) error {
	var errs []error
	next := make(map[string]*authzPolicy, len(ups))
	for _, up := range ups {
		name := strings.TrimPrefix(up.Name, dataplane.AuthzExtensionPrefix)
		if _, dup := next[name]; dup {
			errs = append(errs, fmt.Errorf("policy %s: sent twice", name))
			continue
		}
		a.mu.RLock()
		p := a.byName[name]
		a.mu.RUnlock()
		if p == nil {
			e := engine.New()
			p = &authzPolicy{name: name, engine: e, check: extauthz.New(e, a.opts)}
		}
		next[name] = p
		err := up.Err
		if err == nil {
			err = p.check.Load(up.Bundle)
		}
		a.mu.Lock()
		if err != nil {
			p.loadErr = err.Error()
		} else {
			p.loadErr = ""
		}
		a.mu.Unlock()
		switch {
		case err != nil && p.engine.Revision() != "":
			a.log.Error("policy failed to load; its last good revision keeps deciding", "policy", name, "revision", p.engine.Revision(), "error", err)
		case err != nil:
			a.log.Error("policy failed to load; it denies every request until a revision loads", "policy", name, "error", err)
		default:
			a.log.Debug("policy loaded", "policy", name, "revision", p.engine.Revision(), "mode", up.Bundle.Mode())
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	list := make([]*authzPolicy, 0, len(next))
	for _, p := range next {
		list = append(list, p)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	a.mu.Lock()
	for name := range a.byName {
		if next[name] == nil {
			a.log.Info("policy removed: it no longer targets this workload", "policy", name)
		}
	}
	a.synced, a.policies, a.byName = true, list, next
	a.mu.Unlock()
	return errors.Join(errs...)
}

// Revisions returns the revision deciding for each policy, by
// "<namespace>/<policy>"; a policy that never loaded maps to "".
func (a *Authz) Revisions() map[string]string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make(map[string]string, len(a.policies))
	for _, p := range a.policies {
		out[p.name] = p.engine.Revision()
	}
	return out
}

// Check implements Envoy's ext_authz Check with the combined decision of
// every policy.
func (a *Authz) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	a.mu.RLock()
	synced, list := a.synced, a.policies
	a.mu.RUnlock()
	if !synced {
		a.unsynced.Add(1)
		d := engine.Decision{Reason: unsyncedReason, HTTPStatus: http.StatusServiceUnavailable}
		a.decisions.Record(req, d, errUnsynced, "", 0)
		return denied(http.StatusServiceUnavailable, unsyncedReason), nil
	}
	if len(list) == 0 {
		return &authv3.CheckResponse{
			Status:       &rpcstatus.Status{Code: int32(code.Code_OK)},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}},
		}, nil
	}
	// One deadline for all policies together: each also has its own
	// (extauthz), but a Check must not take one per policy.
	ctx, cancel := context.WithTimeout(ctx, a.opts.Timeout)
	defer cancel()
	resps := make([]*authv3.CheckResponse, len(list))
	for i, p := range list {
		// Every policy decides, even after a denial, so dry-run policies
		// log and count what they would have done on every request.
		resp, err := p.check.Check(ctx, req)
		if err != nil {
			return nil, err
		}
		resps[i] = resp
	}
	return combine(resps), nil
}

// CheckWire is Check of a request in its wire form, as the gRPC server
// serves it: with one policy (the usual case), that policy's server
// answers from the bytes when it can (extauthz.Server.CheckWire, whose
// own deadline is the one a Check would set); otherwise the request is
// decoded and decided by Check.
func (a *Authz) CheckWire(ctx context.Context, raw []byte) ([]byte, error) {
	a.mu.RLock()
	synced, list := a.synced, a.policies
	a.mu.RUnlock()
	if synced && len(list) == 1 {
		return list[0].check.CheckWire(ctx, raw)
	}
	return extauthz.CheckEncoded(ctx, a, raw)
}

// unsyncedReason is the answer to every Check before the control plane
// has said which policies apply to the workload (possibly none).
const unsyncedReason = "no authorization policy set received from the control plane yet for this workload: denying until it arrives"

// errUnsynced makes the decision log write an unsynced denial at warn.
var errUnsynced = errors.New(unsyncedReason)

// denied is a deny with an HTTP status and a plain-text body.
func denied(status int, body string) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(code.Code_PERMISSION_DENIED), Message: body},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode(status)},
			Body:   body,
		}},
	}
}

// combine makes one answer of the policies' answers: the first denial if
// any, otherwise an allow carrying every policy's upstream edits in
// policy order (none when every policy's answer was the bare status of a
// boolean decision). Dynamic metadata is merged, the first policy winning a
// key, and decision_id lists every decision, comma-separated, so a log
// line of each can be found.
func combine(resps []*authv3.CheckResponse) *authv3.CheckResponse {
	for _, r := range resps {
		if r.GetStatus().GetCode() != int32(code.Code_OK) {
			return r
		}
	}
	if len(resps) == 1 {
		return resps[0]
	}
	ok := &authv3.OkHttpResponse{}
	meta := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	var ids []string
	anyOK := false
	for _, r := range resps {
		o := r.GetOkResponse()
		anyOK = anyOK || o != nil
		ok.Headers = append(ok.Headers, o.GetHeaders()...)
		ok.HeadersToRemove = append(ok.HeadersToRemove, o.GetHeadersToRemove()...)
		ok.ResponseHeadersToAdd = append(ok.ResponseHeadersToAdd, o.GetResponseHeadersToAdd()...)
		ok.QueryParametersToRemove = append(ok.QueryParametersToRemove, o.GetQueryParametersToRemove()...)
		ok.QueryParametersToSet = append(ok.QueryParametersToSet, o.GetQueryParametersToSet()...)
		for k, v := range r.GetDynamicMetadata().GetFields() {
			switch _, set := meta.Fields[k]; {
			case k == "decision_id":
				ids = append(ids, v.GetStringValue())
			case !set:
				meta.Fields[k] = v
			}
		}
	}
	if len(ids) > 0 {
		meta.Fields["decision_id"] = structpb.NewStringValue(strings.Join(ids, ","))
	}
	out := &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(code.Code_OK)}, DynamicMetadata: meta}
	// Policies that all decided with a plain boolean answer with the
	// status alone, as each would on its own.
	if anyOK {
		out.HttpResponse = &authv3.CheckResponse_OkResponse{OkResponse: ok}
	}
	return out
}

// Serve serves Check on lis until Stop; it may be called for several
// listeners (authz.sock and a loopback port) at once.
func (a *Authz) Serve(lis net.Listener) error { return a.grpc.Serve(lis) }

// Stop stops every Serve, letting calls in flight finish, and writes the
// decision lines still queued.
func (a *Authz) Stop() {
	a.grpc.Stop()
	a.decisions.Close()
}
