package cli

import (
	"fmt"
	"strings"
	"testing"
)

func numbered(n int, change map[int]string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if s, ok := change[i]; ok {
			b.WriteString(s + "\n")
			continue
		}
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

func TestWriteDiffHunks(t *testing.T) {
	a := numbered(20, nil)
	b := numbered(20, map[int]string{2: "changed 2", 18: "changed 18"})
	var out strings.Builder
	changed, err := WriteDiff(&out, "old", "new", a, b)
	if err != nil || !changed {
		t.Fatalf("WriteDiff: changed=%v err=%v", changed, err)
	}
	want := `--- old
+++ new
@@ -1,5 +1,5 @@
 line 1
-line 2
+changed 2
 line 3
 line 4
 line 5
@@ -15,6 +15,6 @@
 line 15
 line 16
 line 17
-line 18
+changed 18
 line 19
 line 20
`
	if out.String() != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestWriteDiffMergesNearbyChangesAndHandlesNew(t *testing.T) {
	var out strings.Builder
	a := numbered(10, nil)
	b := numbered(10, map[int]string{3: "x", 7: "y"})
	if _, err := WriteDiff(&out, "a", "b", a, b); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "@@ -"); n != 1 {
		t.Fatalf("changes 3 lines apart should share one hunk, got %d:\n%s", n, out.String())
	}

	out.Reset()
	if _, err := WriteDiff(&out, "/dev/null", "x (new)", "", "a\nb\n"); err != nil {
		t.Fatal(err)
	}
	if want := "--- /dev/null\n+++ x (new)\n@@ -0,0 +1,2 @@\n+a\n+b\n"; out.String() != want {
		t.Fatalf("new-file diff:\n%q\nwant\n%q", out.String(), want)
	}

	out.Reset()
	if changed, _ := WriteDiff(&out, "a", "b", a, a); changed || out.Len() != 0 {
		t.Fatalf("equal inputs produced a diff:\n%s", out.String())
	}
}
