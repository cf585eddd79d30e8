package extauthz

import (
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// wireRequest is a CheckRequest read from its wire bytes, for the fast
// key: the parts of it a key can read, as sub-slices of the bytes, which
// must outlive it. Only bytes scanWire accepted are read, so each field
// is found in its one occurrence.
type wireRequest struct {
	source, destination []byte // principals
	http                []byte // the HttpRequest message
}

// Field numbers on the way to what a key reads, from the descriptors.
var (
	numAttributes  = fieldNumber(&authv3.CheckRequest{}, "attributes")
	numSource      = fieldNumber(&authv3.AttributeContext{}, "source")
	numDestination = fieldNumber(&authv3.AttributeContext{}, "destination")
	numRequest     = fieldNumber(&authv3.AttributeContext{}, "request")
	numPrincipal   = fieldNumber(&authv3.AttributeContext_Peer{}, "principal")
	numHTTP        = fieldNumber(&authv3.AttributeContext_Request{}, "http")
	numHeaders     = fieldNumber(&authv3.AttributeContext_HttpRequest{}, "headers")
	numBody        = fieldNumber(&authv3.AttributeContext_HttpRequest{}, "body")
	numRawBody     = fieldNumber(&authv3.AttributeContext_HttpRequest{}, "raw_body")
	// numHTTPFields are the HTTP request's string fields by httpField.
	numHTTPFields = func() (out [len(httpFieldNames)]protowire.Number) {
		for i, name := range httpFieldNames {
			out[i] = fieldNumber(&authv3.AttributeContext_HttpRequest{}, name)
		}
		return out
	}()
)

func fieldNumber(m interface{ ProtoReflect() protoreflect.Message }, name protoreflect.Name) protowire.Number {
	return m.ProtoReflect().Descriptor().Fields().ByName(name).Number()
}

// readWire reads b, a CheckRequest, if scanWire accepts it.
func readWire(b []byte) (w wireRequest, ok bool) {
	if !scanWire(b) {
		return w, false
	}
	return readScanned(b), true
}

// readScanned reads b, which scanWire accepted.
func readScanned(b []byte) (w wireRequest) {
	attrs := lengthField(b, numAttributes)
	w.source = lengthField(lengthField(attrs, numSource), numPrincipal)
	w.destination = lengthField(lengthField(attrs, numDestination), numPrincipal)
	w.http = lengthField(lengthField(attrs, numRequest), numHTTP)
	return w
}

// hasBody says whether the request carries a body, which the fast key
// leaves to the full path, since its input parses it.
func (w wireRequest) hasBody() bool {
	return len(lengthField(w.http, numBody)) > 0 || len(lengthField(w.http, numRawBody)) > 0
}

func (w wireRequest) principal(destination bool) string {
	if destination {
		return string(w.destination)
	}
	return string(w.source)
}

func (w wireRequest) httpField(f httpField) string {
	return string(lengthField(w.http, numHTTPFields[f]))
}

// header returns a header's value; of several entries for one name, the
// last, as a decoded map holds it.
func (w wireRequest) header(name string) (value string, found bool) {
	w.eachHeader(func(k, v []byte) {
		if string(k) == name {
			value, found = string(v), true
		}
	})
	return value, found
}

// headers returns the headers as the decoded map.
func (w wireRequest) headers() map[string]string {
	hs := map[string]string{}
	w.eachHeader(func(k, v []byte) { hs[string(k)] = string(v) })
	return hs
}

// eachHeader calls f with each header entry, in order.
func (w wireRequest) eachHeader(f func(k, v []byte)) {
	b := w.http
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return
		}
		b = b[n:]
		if num == numHeaders && typ == protowire.BytesType {
			entry, _ := protowire.ConsumeBytes(b)
			f(lengthField(entry, 1), lengthField(entry, 2))
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return
		}
		b = b[n:]
	}
}

// lengthField returns the value of the length-delimited field num of the
// message b, or nil when b has none.
func lengthField(b []byte, num protowire.Number) []byte {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return nil
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b)
			return v
		}
		if l = protowire.ConsumeFieldValue(n, typ, b); l < 0 {
			return nil
		}
		b = b[l:]
	}
	return nil
}
