package compile

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/util"

	"embassy.dev/embassy/pkg/resource"
)

// LoadDir reads a policy directory for `embassyctl policy apply`: every
// .rego file except tests (*_test.rego) becomes a module named by its path
// relative to dir, and every data.json is mounted under data at its
// directory's path (dir/roles/data.json becomes data.roles), as `opa test`
// and `opa run` mount them. Two data files that set the same key are an
// error.
func LoadDir(dir string) (modules []resource.RegoModule, data json.RawMessage, err error) {
	doc := map[string]any{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case strings.HasSuffix(rel, "_test.rego"):
			return nil
		case strings.HasSuffix(rel, ".rego"):
			src, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			modules = append(modules, resource.RegoModule{Name: rel, Rego: string(src)})
		case d.Name() == "data.json":
			raw, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			var v any
			if err := util.UnmarshalJSON(raw, &v); err != nil {
				return fmt.Errorf("%s: %v", rel, err)
			}
			if err := mount(doc, dirSegments(path.Dir(rel)), v); err != nil {
				return fmt.Errorf("%s: %v", rel, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(modules) == 0 {
		return nil, nil, fmt.Errorf("%s: no .rego modules", dir)
	}
	sort.Slice(modules, func(i, j int) bool { return modules[i].Name < modules[j].Name })
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, err
	}
	return modules, raw, nil
}

func dirSegments(dir string) []string {
	if dir == "." || dir == "" {
		return nil
	}
	return strings.Split(dir, "/")
}

// mount merges v into doc at the path segs; objects merge key by key, any
// other clash is an error.
func mount(doc map[string]any, segs []string, v any) error {
	if len(segs) == 0 {
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("a data.json at the top must hold an object")
		}
		return merge(doc, obj, nil)
	}
	parent := segs[:len(segs)-1]
	for i, s := range parent {
		next, ok := doc[s]
		if !ok {
			child := map[string]any{}
			doc[s] = child
			doc = child
			continue
		}
		child, ok := next.(map[string]any)
		if !ok {
			return fmt.Errorf("data.%s is already set", strings.Join(segs[:i+1], "."))
		}
		doc = child
	}
	return merge(doc, map[string]any{segs[len(segs)-1]: v}, parent)
}

func merge(dst, src map[string]any, at []string) error {
	for k, v := range src {
		here := append(append([]string(nil), at...), k)
		old, ok := dst[k]
		if !ok {
			dst[k] = v
			continue
		}
		o1, ok1 := old.(map[string]any)
		o2, ok2 := v.(map[string]any)
		if !ok1 || !ok2 {
			return fmt.Errorf("data.%s is set twice", strings.Join(here, "."))
		}
		if err := merge(o1, o2, here); err != nil {
			return err
		}
	}
	return nil
}
