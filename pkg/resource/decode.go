package resource

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Decode parses multi-document YAML (documents separated by ---; empty
// documents skipped) strictly. file is used only in error messages. Each
// returned Resource has Origin set, Spec a typed pointer, Namespace
// defaulted to DefaultNamespace for namespaced kinds (and left "" for Mesh),
// and has passed Validate. On any problem it returns *Errors listing every
// problem found (not just the first) and no resources.
func Decode(file string, data []byte) ([]*Resource, error) {
	rs, errs := decodeFile(file, data)
	errs = append(errs, duplicates(rs)...)
	if len(errs) > 0 {
		return nil, &errs
	}
	return rs, nil
}

// DecodePartial is Decode that also returns the documents that decoded
// when others of the file did not, so that a caller can run its own checks
// (compiling Rego) on those and report every problem of an apply at once.
// Resources returned with an error must never be stored.
func DecodePartial(file string, data []byte) ([]*Resource, error) {
	rs, errs := decodeFile(file, data)
	errs = append(errs, duplicates(rs)...)
	if len(errs) > 0 {
		return rs, &errs
	}
	return rs, nil
}

// decodeFile decodes every document of one file, collecting every problem.
// Duplicate keys are left to the caller, which may see several files.
func decodeFile(file string, data []byte) ([]*Resource, Errors) {
	var (
		rs    []*Resource
		errs  Errors
		index int
	)
	for _, d := range splitDocuments(data) {
		s := subject{file: file, index: index, line: d.contentLine}
		j, err := yaml.YAMLToJSONStrict(d.body)
		if err != nil {
			errs.add(s, "", "invalid YAML: %s", yamlMessage(err, d.bodyLine))
			index++
			continue
		}
		if string(j) == "null" {
			continue // only comments: not a document anyone meant to count
		}
		index++
		r, derrs := decodeDocument(j, s)
		errs = append(errs, derrs...)
		if r != nil {
			rs = append(rs, r)
		}
	}
	return rs, errs
}

// rawDocument is one document's text and where it sits in its file.
type rawDocument struct {
	body []byte
	// bodyLine is the file line of body's first line, to turn the YAML
	// parser's document-relative line numbers into file lines.
	bodyLine int
	// contentLine is the first line that is neither blank nor a comment.
	contentLine int
}

// splitDocuments cuts data on lines that are exactly "---" (trailing
// blanks allowed). A leading separator yields an empty first document,
// which the caller skips like any other empty one.
func splitDocuments(data []byte) []rawDocument {
	lines := bytes.SplitAfter(data, []byte("\n"))
	var docs []rawDocument
	cur := rawDocument{bodyLine: 1}
	for i, l := range lines {
		if string(bytes.TrimRight(l, " \t\r\n")) == "---" {
			docs = append(docs, cur)
			cur = rawDocument{bodyLine: i + 2}
			continue
		}
		if t := bytes.TrimSpace(l); cur.contentLine == 0 && len(t) > 0 && t[0] != '#' {
			cur.contentLine = i + 1
		}
		cur.body = append(cur.body, l...)
	}
	return append(docs, cur)
}

// yamlLine finds the parser's "line N" references.
var yamlLine = regexp.MustCompile(`line (\d+)`)

// yamlMessage makes a parser error readable on one line, with line numbers
// counted from the start of the file rather than of the document.
func yamlMessage(err error, bodyLine int) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = yamlLine.ReplaceAllStringFunc(msg, func(m string) string {
		n, convErr := strconv.Atoi(strings.TrimPrefix(m, "line "))
		if convErr != nil {
			return m
		}
		return fmt.Sprintf("line %d", n+bodyLine-1)
	})
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n", "")
	return strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", ";")), " ")
}

// envelopeFields are the only top-level fields of a document.
var envelopeFields = []string{"apiVersion", "kind", "metadata", "spec"}

// decodeDocument turns one document's JSON into a validated Resource, or
// reports every problem with it.
func decodeDocument(j []byte, s subject) (*Resource, Errors) {
	var errs Errors
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber() // keep integers exact for the range checks
	var doc any
	if err := dec.Decode(&doc); err != nil {
		errs.add(s, "", "cannot read document: %v", err)
		return nil, errs
	}
	m, ok := doc.(map[string]any)
	if !ok {
		errs.add(s, "", "expected a mapping with apiVersion, kind, metadata and spec, got %s", describe(doc))
		return nil, errs
	}
	kind := decodeEnvelope(m, &s, &errs)
	report := func(path, msg string) { errs.add(s, path, "%s", msg) }
	checkShape(m["metadata"], reflect.TypeFor[Metadata](), "metadata", report)
	if kind != "" {
		checkShape(m["spec"], reflect.TypeOf(NewSpec(kind)).Elem(), "spec", report)
	}
	if len(errs) > 0 {
		// Validating a half-decoded spec would add misleading noise, but a
		// bad name is worth reporting in the same pass.
		v := validator{s: s}
		v.dnsLabel("metadata.name", s.name, false)
		if kind.Namespaced() {
			v.dnsLabel("metadata.namespace", s.namespace, false)
		}
		return nil, append(errs, v.errs...)
	}
	r, err := unmarshalResource(j, kind)
	if err != nil {
		errs.add(s, typeErrorPath(err), "%v", err)
		return nil, errs
	}
	SetDefaults(r)
	r.Origin = &Origin{File: s.file, Index: s.index}
	if err := Validate(r); err != nil {
		var verrs Errors
		errors.As(err, &verrs)
		for i := range verrs {
			verrs[i].Line = s.line
		}
		return nil, verrs
	}
	return r, nil
}

// decodeEnvelope checks the top-level fields and records the document's
// kind, namespace and name in s so every later problem names them. It
// returns the kind, or "" when it is missing or unknown.
func decodeEnvelope(m map[string]any, s *subject, errs *Errors) Kind {
	kind, kindProblem := documentKind(m["kind"])
	s.kind = kind
	if md, ok := m["metadata"].(map[string]any); ok {
		s.name, _ = md["name"].(string)
		s.namespace, _ = md["namespace"].(string)
		if s.namespace == "" && kind != "" && kind.Namespaced() {
			s.namespace = DefaultNamespace
		}
	}
	switch v := m["apiVersion"].(type) {
	case nil:
		errs.add(*s, "apiVersion", "required; expected %s", APIVersion)
	case string:
		if v != APIVersion {
			errs.add(*s, "apiVersion", "unknown apiVersion %q; expected %s", v, APIVersion)
		}
	default:
		errs.add(*s, "apiVersion", "expected the string %s, got %s", APIVersion, describe(v))
	}
	if kindProblem != "" {
		errs.add(*s, "kind", "%s", kindProblem)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(envelopeFields, k) {
			errs.add(*s, joinField("", k), "unknown field; expected one of %s", strings.Join(envelopeFields, ", "))
		}
	}
	md, present := m["metadata"]
	switch _, isMap := md.(map[string]any); {
	case !present || md == nil:
		errs.add(*s, "metadata", "required; it must set at least name")
	case isMap && s.name == "":
		errs.add(*s, "metadata.name", "required")
	}
	return kind
}

// documentKind returns the document's kind, or "" and what is wrong with it.
func documentKind(v any) (Kind, string) {
	k, isString := v.(string)
	switch {
	case v == nil:
		return "", "required; expected one of " + kindList()
	case !isString:
		return "", fmt.Sprintf("expected a string, one of %s; got %s", kindList(), describe(v))
	case NewSpec(Kind(k)) != nil:
		return Kind(k), ""
	}
	if pk, err := ParseKind(k); err == nil {
		return "", fmt.Sprintf("unknown kind %q; did you mean %s?", k, pk)
	}
	return "", fmt.Sprintf("unknown kind %q; expected one of %s", k, kindList())
}

// unmarshalResource decodes a shape-checked document into typed structs.
func unmarshalResource(j []byte, kind Kind) (*Resource, error) {
	var env struct {
		APIVersion string          `json:"apiVersion"`
		Kind       Kind            `json:"kind"`
		Metadata   Metadata        `json:"metadata"`
		Spec       json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(j, &env); err != nil {
		return nil, err
	}
	spec := NewSpec(kind)
	if len(env.Spec) > 0 && string(env.Spec) != "null" {
		if err := json.Unmarshal(env.Spec, spec); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				te.Field = "spec." + te.Field
			}
			return nil, err
		}
	}
	return &Resource{APIVersion: env.APIVersion, Kind: env.Kind, Metadata: env.Metadata, Spec: spec}, nil
}

// typeErrorPath is the field path of a JSON type error, or "".
func typeErrorPath(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	return ""
}

// SetDefaults fills what a document may leave out: the namespace of a
// namespaced kind. Decode calls it; callers that build resources in code
// call it before Validate.
func SetDefaults(r *Resource) {
	if r.Kind.Namespaced() && r.Metadata.Namespace == "" {
		r.Metadata.Namespace = DefaultNamespace
	}
}

// duplicates reports every resource whose key an earlier one already has:
// an apply that sets the same object twice is ambiguous.
func duplicates(rs []*Resource) Errors {
	var errs Errors
	seen := make(map[Key]*Resource, len(rs))
	for _, r := range rs {
		first, dup := seen[r.Key()]
		if !dup {
			seen[r.Key()] = r
			continue
		}
		where := "earlier"
		if first.Origin != nil {
			where = fmt.Sprintf("in document %d", first.Origin.Index)
			if r.Origin == nil || first.Origin.File != r.Origin.File {
				where += " of " + first.Origin.File
			}
		}
		errs.add(subjectOf(r), "metadata.name", "duplicate %s; it is already defined %s", r.Key(), where)
	}
	return errs
}

// kindList names the valid kinds for error messages.
func kindList() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}
