package compile

import (
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Key returns the values of d.Fields in input (a map[string]any from
// JSON, or an ast.Value), as one string: two inputs with the same key get
// the same decision from a cacheable bundle. ok is false when a value
// cannot be converted, and the input must then be decided uncached.
func (d *InputDeps) Key(input any) (key string, ok bool) {
	return d.KeyWith(func(path []*ast.Term) (ast.Value, bool, bool) { return lookup(input, path) })
}

// Paths returns the input paths of Fields, in the same order, without
// the leading input; callers must not change them.
func (d *InputDeps) Paths() [][]*ast.Term { return d.paths }

// KeyWith is Key for an input that find reads the value at each of
// Paths from (found false when the input has none there; ok false when
// find cannot tell, which makes KeyWith's ok false too), so a caller
// that can read those values without building the whole input gets the
// very key Key would give.
func (d *InputDeps) KeyWith(find func(path []*ast.Term) (v ast.Value, found, ok bool)) (key string, ok bool) {
	var b strings.Builder
	for _, p := range d.paths {
		v, found, ok := find(p)
		if !ok {
			return "", false
		}
		// Values are Rego text (strings quoted, object keys sorted), which
		// never holds a raw NUL or SOH; SOH marks an absent field, which
		// differs from null.
		if !found {
			b.WriteByte(1)
		} else {
			b.WriteString(v.String())
		}
		b.WriteByte(0)
	}
	return b.String(), true
}

// lookup finds the value at path in input.
func lookup(input any, path []*ast.Term) (v ast.Value, found, ok bool) {
	if in, isAST := input.(ast.Value); isAST {
		v, err := in.Find(ast.Ref(path))
		return v, err == nil, true
	}
	cur := input
	for _, k := range path {
		switch c := cur.(type) {
		case map[string]any:
			s, isStr := k.Value.(ast.String)
			if !isStr {
				return nil, false, true
			}
			if cur, found = c[string(s)]; !found {
				return nil, false, true
			}
		case []any:
			n, isNum := k.Value.(ast.Number)
			if !isNum {
				return nil, false, true
			}
			i, isInt := n.Int()
			if !isInt || i < 0 || i >= len(c) {
				return nil, false, true
			}
			cur = c[i]
		default:
			return nil, false, true
		}
	}
	v, err := ast.InterfaceToValue(cur)
	return v, true, err == nil
}
