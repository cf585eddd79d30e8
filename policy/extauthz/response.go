package extauthz

import (
	"encoding/json"
	"fmt"
	"net/http"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"embassy.dev/embassy/policy/engine"
)

// response maps a Decision to what Envoy acts on, as the OPA-Envoy plugin
// does: a policy's plain boolean is answered with the status alone; an
// object's allow is OK with the upstream edits, its deny PERMISSION_DENIED
// with the status, headers and body for the client; a dry-run deny is OK
// with an empty OK response. Embassy's own refusals (bad request, invalid
// token, deadline, failure) are denied responses saying why. Dynamic
// metadata goes with every answer, with decision_id.
func response(d engine.Decision, decisionID string) *authv3.CheckResponse {
	resp := &authv3.CheckResponse{DynamicMetadata: dynamicMetadata(d.DynamicMetadata, decisionID)}
	switch {
	case d.Allowed && d.Boolean && len(d.RequestHeadersToRemove) == 0:
		// JWT providers' token headers are the one edit a boolean allow
		// can carry; the plugin, which has none, never sends any.
		resp.Status = &rpcstatus.Status{Code: int32(code.Code_OK)}
	case d.Allowed:
		resp.Status = &rpcstatus.Status{Code: int32(code.Code_OK)}
		resp.HttpResponse = &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers:                 headerOptions(d.Headers),
			HeadersToRemove:         d.RequestHeadersToRemove,
			ResponseHeadersToAdd:    headerOptions(d.ResponseHeadersToAdd),
			QueryParametersToRemove: d.QueryParametersToRemove,
			QueryParametersToSet:    queryParameters(d.QueryParametersToSet),
		}}
	case d.DryRun:
		resp.Status = &rpcstatus.Status{Code: int32(code.Code_OK)}
		resp.HttpResponse = &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}}
	case d.Boolean:
		resp.Status = &rpcstatus.Status{Code: int32(code.Code_PERMISSION_DENIED)}
	default:
		status := d.HTTPStatus
		if status == 0 {
			status = http.StatusForbidden
		}
		resp.Status = &rpcstatus.Status{Code: int32(code.Code_PERMISSION_DENIED)}
		resp.HttpResponse = &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(status)},
			Headers: headerOptions(d.Headers),
			Body:    d.Body,
		}}
	}
	return resp
}

func headerOptions(hs []engine.Header) []*corev3.HeaderValueOption {
	if len(hs) == 0 {
		return nil
	}
	out := make([]*corev3.HeaderValueOption, len(hs))
	for i, h := range hs {
		out[i] = &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: h.Key, Value: h.Value}}
	}
	return out
}

func queryParameters(ps []engine.Header) []*corev3.QueryParameter {
	if len(ps) == 0 {
		return nil
	}
	out := make([]*corev3.QueryParameter, len(ps))
	for i, p := range ps {
		out[i] = &corev3.QueryParameter{Key: p.Key, Value: p.Value}
	}
	return out
}

// dynamicMetadata converts the policy's metadata (whose numbers are
// json.Number, which structpb does not take) and adds the decision id.
func dynamicMetadata(m map[string]any, decisionID string) *structpb.Struct {
	s := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(m)+1)}
	for k, v := range m {
		pv, err := structpb.NewValue(plain(v))
		if err != nil {
			pv = structpb.NewStringValue(fmt.Sprint(v))
		}
		s.Fields[k] = pv
	}
	s.Fields["decision_id"] = structpb.NewStringValue(decisionID)
	return s
}

func plain(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	}
	return v
}

// EnvoyStatus is the HTTP status Envoy answers the client with for resp
// when it denies: the denied response's status, or 403, Envoy's own, for a
// deny that carries none (a boolean policy's). It is 200 for an OK.
func EnvoyStatus(resp *authv3.CheckResponse) int {
	switch {
	case resp.GetStatus().GetCode() == int32(code.Code_OK):
		return http.StatusOK
	case resp.GetDeniedResponse().GetStatus() != nil:
		return int(resp.GetDeniedResponse().GetStatus().GetCode())
	}
	return http.StatusForbidden
}
