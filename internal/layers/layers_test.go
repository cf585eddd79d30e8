package layers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// module is the import path every package of ours starts with.
const module = "embassy.dev/embassy"

// edge is one import, from a package to another, by their paths below the
// module.
type edge struct{ from, to string }

// rules are what check holds a graph to; table_test.go has the tree's.
type rules struct {
	layerOf        map[string]int
	apart          []edge
	importedOnlyBy map[string][]string
	allowed        map[edge]string
}

// check lists, sorted, what is wrong with the graph: packages not placed
// in a layer, imports the rules forbid that allowed does not name, and
// allowed imports that no longer exist or are no longer forbidden.
func check(graph map[string][]string, r rules) []string {
	var bad []string
	seen := map[edge]bool{}
	for from, tos := range graph {
		if _, ok := r.layerOf[from]; !ok {
			bad = append(bad, fmt.Sprintf("%s is in no layer: add it to layerOf in table_test.go and to ARCHITECTURE.md", from))
			continue
		}
		for _, to := range tos {
			e := edge{from, to}
			wrong := r.forbids(e)
			if wrong == "" {
				continue
			}
			if _, ok := r.allowed[e]; ok {
				seen[e] = true
				continue
			}
			bad = append(bad, fmt.Sprintf("%s imports %s: %s; move what it needs down, or into a package both import", from, to, wrong))
		}
	}
	for e, why := range r.allowed {
		if !seen[e] {
			bad = append(bad, fmt.Sprintf("allowed import %s -> %s (%s) is gone or no longer against the rules: remove it from allowed in table_test.go", e.from, e.to, why))
		}
	}
	sort.Strings(bad)
	return bad
}

// forbids says why the rules forbid e, or "" when they do not. An import
// of a package in no layer is not judged: that package is reported.
func (r rules) forbids(e edge) string {
	lf, lt := r.layerOf[e.from], r.layerOf[e.to]
	if _, ok := r.layerOf[e.to]; !ok {
		return ""
	}
	if lt > lf {
		return fmt.Sprintf("%s (%s) may not import %s (%s), a higher layer", e.from, layerNames[lf], e.to, layerNames[lt])
	}
	if slices.Contains(r.apart, e) {
		return "the two talk only over a wire"
	}
	if only, ok := r.importedOnlyBy[e.to]; ok && lf != tools && !slices.Contains(only, e.from) {
		return fmt.Sprintf("%s is imported only by %s", e.to, strings.Join(only, ", "))
	}
	return ""
}

// moduleGraph lists every package of the module with the module's
// packages its non-test files import, both by path below the module.
func moduleGraph(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s/...: %v", module, err)
	}
	graph := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		from := strings.TrimPrefix(f[0], module+"/")
		graph[from] = nil
		for _, imp := range f[1:] {
			if to, ok := strings.CutPrefix(imp, module+"/"); ok {
				graph[from] = append(graph[from], to)
			}
		}
	}
	return graph
}

func TestImportsRunDownTheLayers(t *testing.T) {
	graph := moduleGraph(t)
	if len(graph) < len(layerOf)/2 {
		t.Fatalf("go list found %d packages, the table places %d: is the test running inside the module?", len(graph), len(layerOf))
	}
	for _, problem := range check(graph, table) {
		t.Error(problem)
	}
}

func TestArchitectureNamesEveryPlacedPackage(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	graph := moduleGraph(t)
	for pkg := range layerOf {
		if _, exists := graph[pkg]; exists && !strings.Contains(string(doc), "`"+pkg+"`") {
			t.Errorf("ARCHITECTURE.md does not name `%s` (layer %s)", pkg, layerNames[layerOf[pkg]])
		}
	}
}

// TestCheckFindsEachKindOfProblem proves the checker on a small graph, so
// that a clean tree means the rules ran, not that they cannot fail.
func TestCheckFindsEachKindOfProblem(t *testing.T) {
	r := rules{
		layerOf:        map[string]int{"m": model, "e": engines, "p": engines, "s": serving, "c": serving, "x": tools},
		apart:          []edge{{"c", "s"}},
		importedOnlyBy: map[string][]string{"p": {"s"}},
		allowed:        map[edge]string{{"s", "m"}: "stale"},
	}
	graph := map[string][]string{
		"m": {"e"},      // up a layer
		"e": {"m", "p"}, // down: fine; p is only for s
		"c": {"s", "m"}, // c and s are kept apart
		"s": {"e", "p"},
		"x": {"p", "c"}, // tools import anything
		"u": nil,        // in no layer
	}
	want := []string{
		"allowed import s -> m (stale) is gone or no longer against the rules: remove it from allowed in table_test.go",
		"c imports s: the two talk only over a wire; move what it needs down, or into a package both import",
		"e imports p: p is imported only by s; move what it needs down, or into a package both import",
		"m imports e: m (model) may not import e (engines), a higher layer; move what it needs down, or into a package both import",
		"u is in no layer: add it to layerOf in table_test.go and to ARCHITECTURE.md",
	}
	if got := check(graph, r); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("check found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	r.allowed = map[edge]string{{"m", "e"}: "known", {"c", "s"}: "known", {"e", "p"}: "known"}
	if got := check(graph, r); len(got) != 1 {
		t.Errorf("with every forbidden import allowed, want only the unplaced package, got %q", got)
	}
}
