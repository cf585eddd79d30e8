package extauthz

import (
	"net/url"
	"slices"
	"strconv"
	"unicode/utf8"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"google.golang.org/protobuf/reflect/protoreflect"

	"embassy.dev/embassy/policy/compile"
)

// fastKey computes a cacheable revision's cache key straight from the
// CheckRequest, decoded or still in its wire bytes (keySource), so a hit
// skips building the input document, which is most of what a cached
// Check would otherwise cost. It reads each field of compile.InputDeps
// from the request and writes the key the input's would be: with the
// same key writer (InputDeps.KeyWith), or, when every field is a string,
// as that writer writes strings (textKey). A revision gets one only when
// every field it keys on is one fastKey can read (fieldReader) and no JWT
// claims join the input.
type fastKey struct {
	deps   *compile.InputDeps
	reads  []fieldReader // one per deps.Paths()
	parsed bool          // a field is in parsed_path or parsed_query
	texts  bool          // every field is a string field (fieldReader.text)
}

// fastRequest is one request as the readers see it: its fields, from a
// decoded CheckRequest or from its wire bytes, and its parsed path and
// query, as InputValue parses them.
type fastRequest struct {
	src                     keySource
	parsedPath, parsedQuery ast.Value
}

// keySource is where a fast key reads a request's fields: a decoded
// CheckRequest (decodedRequest) or its wire bytes (wireRequest). Both
// give a field the value the input holds, so both give one key.
type keySource interface {
	principal(destination bool) string
	httpField(f httpField) string
	header(name string) (value string, found bool)
}

// httpField is one of the HTTP request's string fields a key reads, by
// its index in httpFieldNames.
type httpField int

// httpFieldNames are the HTTP request's string fields a key reads, by
// their proto names, which are also their protojson names.
var httpFieldNames = [...]protoreflect.Name{"id", "method", "path", "host", "scheme", "query", "fragment", "protocol"}

const (
	httpMethod httpField = 1
	httpPath   httpField = 2
)

// fieldReader reads the value the input would hold at one path: value
// as OPA's value; text, set for a path into a string field, as the
// string, which a key writes without making OPA's value of it.
type fieldReader struct {
	value func(r *fastRequest) (v ast.Value, found bool)
	text  func(r *fastRequest) (s string, found bool)
}

// newFastKey returns the fast key of a cacheable revision, or nil when
// its key needs the whole input.
func newFastKey(b *compile.Bundle, deps *compile.InputDeps) *fastKey {
	if !deps.Cacheable || b.JWTVerifier() != nil {
		return nil
	}
	k := &fastKey{deps: deps, texts: true}
	for _, p := range deps.Paths() {
		read := newFieldReader(p)
		if read.value == nil {
			return nil
		}
		k.reads = append(k.reads, read)
		k.parsed = k.parsed || p[0].Equal(keyParsedPath) || p[0].Equal(keyParsedQuery)
		k.texts = k.texts && read.text != nil
	}
	return k
}

// key returns req's cache key; ok is false when req must take the full
// path, because its input would not build (so it is answered 400) or a
// field cannot be read here.
func (k *fastKey) key(req *authv3.CheckRequest) (key string, ok bool) {
	h := req.GetAttributes().GetRequest().GetHttp()
	if !protoBuilds(req.ProtoReflect()) || !bodyParses(h) {
		return "", false
	}
	return k.keyOf(decodedRequest{req: req, h: h})
}

// keyWire is key of a request read from its wire bytes. A request with a
// body takes the full path, which parses it.
func (k *fastKey) keyWire(w wireRequest) (key string, ok bool) {
	if w.hasBody() {
		return "", false
	}
	return k.keyOf(w)
}

func (k *fastKey) keyOf(src keySource) (key string, ok bool) {
	r := &fastRequest{src: src}
	var err error
	// Only a path that parses builds an input; parsing the query too
	// costs as much again, so that waits until a field needs it.
	if k.parsed {
		r.parsedPath, r.parsedQuery, err = parsePath(src.httpField(httpPath))
	} else {
		_, err = url.Parse(src.httpField(httpPath))
	}
	if err != nil {
		return "", false
	}
	if k.texts {
		return k.textKey(r), true
	}
	i := 0
	return k.deps.KeyWith(func([]*ast.Term) (ast.Value, bool, bool) {
		v, found := k.reads[i].value(r)
		i++
		return v, found, true
	})
}

// textKey is the key KeyWith writes for string fields, written from the
// strings: each field's Rego text (for a string, strconv.Quote's), or
// SOH when absent, then NUL. TestFastKeyEqualsInputKeyOverCorpus holds
// it to the input's key.
func (k *fastKey) textKey(r *fastRequest) string {
	b := make([]byte, 0, 128)
	for _, read := range k.reads {
		if s, found := read.text(r); found {
			b = strconv.AppendQuote(b, s)
		} else {
			b = append(b, 1)
		}
		b = append(b, 0)
	}
	return string(b)
}

// decodedRequest is a decoded CheckRequest as a keySource.
type decodedRequest struct {
	req *authv3.CheckRequest
	h   *authv3.AttributeContext_HttpRequest
}

func (d decodedRequest) principal(destination bool) string {
	if destination {
		return d.req.GetAttributes().GetDestination().GetPrincipal()
	}
	return d.req.GetAttributes().GetSource().GetPrincipal()
}

func (d decodedRequest) httpField(f httpField) string {
	h := d.h
	return [...]string{h.GetId(), h.GetMethod(), h.GetPath(), h.GetHost(), h.GetScheme(), h.GetQuery(), h.GetFragment(), h.GetProtocol()}[f]
}

func (d decodedRequest) header(name string) (string, bool) {
	v, ok := d.h.GetHeaders()[name]
	return v, ok
}

// bodyParses says whether InputValue would parse h's body without error;
// parsing it here is rare, since Envoy sends a body only when the filter
// asks for one.
func bodyParses(h *authv3.AttributeContext_HttpRequest) bool {
	body := h.GetBody()
	if body == "" {
		body = string(h.GetRawBody())
	}
	_, _, err := parseBody(h.GetHeaders(), body)
	return err == nil
}

// newFieldReader returns the reader of an input path, or nil when the
// path is not one read here. Past the field a reader finds, the rest of
// the path is looked up with OPA's own Find, as the key of the input
// does.
func newFieldReader(p []*ast.Term) fieldReader {
	name := func(i int) string {
		if i >= len(p) {
			return ""
		}
		s, _ := p[i].Value.(ast.String)
		return string(s)
	}
	switch name(0) {
	case "version":
		return within(p[1:], func(*fastRequest) ast.Value { return version.Value })
	case "parsed_path":
		return within(p[1:], func(r *fastRequest) ast.Value { return r.parsedPath })
	case "parsed_query":
		return within(p[1:], func(r *fastRequest) ast.Value { return r.parsedQuery })
	case "attributes":
	default:
		return fieldReader{}
	}
	switch {
	case (name(1) == "source" || name(1) == "destination") && name(2) == "principal":
		destination := name(1) == "destination"
		return withinString(p[3:], func(r *fastRequest) (string, bool) {
			s := r.src.principal(destination)
			return s, s != ""
		})
	case name(1) == "request" && name(2) == "http" && name(3) == "headers" && name(4) != "":
		header := name(4)
		return withinString(p[5:], func(r *fastRequest) (string, bool) { return r.src.header(header) })
	case name(1) == "request" && name(2) == "http":
		i := slices.Index(httpFieldNames[:], protoreflect.Name(name(3)))
		if i < 0 {
			return fieldReader{}
		}
		return withinString(p[4:], func(r *fastRequest) (string, bool) {
			s := r.src.httpField(httpField(i))
			return s, s != ""
		})
	}
	return fieldReader{}
}

// within reads rest inside the value get returns.
func within(rest []*ast.Term, get func(*fastRequest) ast.Value) fieldReader {
	return fieldReader{value: func(r *fastRequest) (ast.Value, bool) {
		v, err := get(r).Find(ast.Ref(rest))
		return v, err == nil
	}}
}

// withinString reads rest inside a string field that the input holds
// only when get says so (protojson leaves empty strings out). Nothing is
// inside a string, so only the string itself, with no rest, is found.
func withinString(rest []*ast.Term, get func(*fastRequest) (string, bool)) fieldReader {
	text := func(r *fastRequest) (string, bool) {
		if len(rest) > 0 {
			return "", false
		}
		return get(r)
	}
	return fieldReader{text: text, value: func(r *fastRequest) (ast.Value, bool) {
		s, ok := text(r)
		if !ok {
			return nil, false
		}
		return ast.String(s), true
	}}
}

// protoBuilds says whether protoValue(m) would succeed, without building
// it: it refuses exactly what protoValue refuses (strings and map keys
// that are not UTF-8, well-known types protojson rejects).
func protoBuilds(m protoreflect.Message) bool {
	switch x := m.Interface().(type) {
	case *authv3.AttributeContext_HttpRequest:
		return httpRequestBuilds(x)
	case *authv3.AttributeContext_Peer:
		return peerBuilds(x)
	}
	if wkt := wellKnown(m.Descriptor().FullName()); wkt != nil {
		_, err := wkt(m)
		return err == nil
	}
	ok := true
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		ok = fieldBuilds(fd, v)
		return ok
	})
	return ok
}

func fieldBuilds(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
	switch {
	case fd.IsList():
		for i := range v.List().Len() {
			if !singularBuilds(fd, v.List().Get(i)) {
				return false
			}
		}
		return true
	case fd.IsMap():
		ok := true
		v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
			ok = singularBuilds(fd.MapValue(), mv) && utf8.ValidString(k.String())
			return ok
		})
		return ok
	}
	return singularBuilds(fd, v)
}

func singularBuilds(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return utf8.ValidString(v.String())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return protoBuilds(v.Message())
	}
	return true
}

// httpRequestBuilds is protoBuilds of the HTTP request, read from its Go
// fields as httpRequestValue reads them.
func httpRequestBuilds(h *authv3.AttributeContext_HttpRequest) bool {
	for _, s := range [...]string{h.Id, h.Method, h.Path, h.Host, h.Scheme, h.Query, h.Fragment, h.Protocol, h.Body} {
		if !utf8.ValidString(s) {
			return false
		}
	}
	for k, v := range h.Headers {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return false
		}
	}
	return h.HeaderMap == nil || protoBuilds(h.HeaderMap.ProtoReflect())
}

// peerBuilds is protoBuilds of a peer, read from its Go fields: every
// request has two, and reflection over them cost a third of a hit.
func peerBuilds(p *authv3.AttributeContext_Peer) bool {
	for _, s := range [...]string{p.Service, p.Principal, p.Certificate} {
		if !utf8.ValidString(s) {
			return false
		}
	}
	for k, v := range p.Labels {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return false
		}
	}
	return p.Address == nil || protoBuilds(p.Address.ProtoReflect())
}
