package layers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// module is the import path every package of ours starts with.
const module = "embassy.dev/embassy"

// edge is one import, from a package to another, by their paths below the
// module.
type edge struct{ from, to string }

// check lists, sorted, what is wrong with the graph: packages not placed
// in a layer, imports against the direction or between packages kept
// apart that allowed does not name, and allowed imports that no longer
// exist.
func check(graph map[string][]string, layerOf map[string]int, apart []edge, allowed map[edge]string) []string {
	var bad []string
	seen := map[edge]bool{}
	never := map[edge]bool{}
	for _, e := range apart {
		never[e] = true
	}
	for from, tos := range graph {
		lf, ok := layerOf[from]
		if !ok {
			bad = append(bad, fmt.Sprintf("%s is in no layer: add it to layerOf in table_test.go and to ARCHITECTURE.md", from))
			continue
		}
		for _, to := range tos {
			e := edge{from, to}
			lt, ok := layerOf[to]
			wrong := ""
			switch {
			case !ok:
				continue // reported as a package of its own
			case never[e]:
				wrong = "the two talk only over a wire"
			case lt > lf:
				wrong = fmt.Sprintf("%s (%s) may not import %s (%s), a higher layer", from, layerNames[lf], to, layerNames[lt])
			default:
				continue
			}
			if _, ok := allowed[e]; ok {
				seen[e] = true
				continue
			}
			bad = append(bad, fmt.Sprintf("%s imports %s: %s; move what it needs down, or into a package both import", from, to, wrong))
		}
	}
	for e, why := range allowed {
		if !seen[e] {
			bad = append(bad, fmt.Sprintf("allowed import %s -> %s (%s) is no longer against the direction: remove it from allowed in table_test.go", e.from, e.to, why))
		}
	}
	sort.Strings(bad)
	return bad
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
	for _, problem := range check(graph, layerOf, apart, allowed) {
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
	layers := map[string]int{"m": model, "e": engines, "s": serving, "c": serving}
	graph := map[string][]string{
		"m": {"e"},      // up a layer
		"e": {"m"},      // down: fine
		"c": {"s", "m"}, // c and s are kept apart
		"s": {"e"},
		"x": nil, // in no layer
	}
	got := check(graph, layers, []edge{{"c", "s"}}, map[edge]string{{"s", "m"}: "stale"})
	want := []string{
		"allowed import s -> m (stale) is no longer against the direction: remove it from allowed in table_test.go",
		"c imports s: the two talk only over a wire; move what it needs down, or into a package both import",
		"m imports e: m (model) may not import e (engines), a higher layer; move what it needs down, or into a package both import",
		"x is in no layer: add it to layerOf in table_test.go and to ARCHITECTURE.md",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("check found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := check(graph, layers, []edge{{"c", "s"}}, map[edge]string{{"m", "e"}: "known", {"c", "s"}: "known"}); len(got) != 1 {
		t.Errorf("with both imports allowed, want only the unplaced package, got %q", got)
	}
}
