package extauthz

import (
	"strings"
	"testing"
)

// envoyPaths are Envoy's own expectations of its path handling, from
// test/common/http/path_utility_test.cc (canonicalPath, mergeSlashes,
// unescapeSlashes, stripParametersFromDotSegments) and
// conn_manager_utility.cc's order: fragment, escaped slashes, canonical
// path, merged slashes. want "" is a request Envoy answers 400.
var envoyPaths = []struct{ in, want string }{
	// AlreadyNormalPaths, NormalizeValidPaths, NormalizeCasePath.
	{"/xyz", "/xyz"},
	{"/x/y/z", "/x/y/z"},
	{"/a/b/../c", "/a/c"},
	{"/a/b/./c", "/a/b/c"},
	{"a/b/../c", "/a/c"},
	{"/a/b/../../../../c", "/c"},
	{"/a/..\\c", "/c"},
	{"/%c0%af", "/%c0%af"},
	{"/a/b/%2E%2E/c", "/a/c"},
	{"/a/b/%2e%2e/c", "/a/c"},
	{"/A/B/C", "/A/B/C"},
	{"/xyz/..;foo=bar/abc", "/abc"},
	{"/..;foo=bar/abc", "/abc"},
	{"/xyz/..;foo=bar", "/"},
	{"/xyz/.;foo=bar/abc", "/xyz/abc"},
	{"/.;foo=bar/abc", "/abc"},
	{"/xyz/.;foo=bar", "/xyz/"},
	{"/xyz/..;foo=bar/.;v1=2,v2=3/abc", "/abc"},
	{"/..;foo=bar/abc/.;mmm", "/abc/"},
	{"/xyz/..;foo=bar/.;fff=zzz?blah=woops", "/?blah=woops"},
	{"/xyz/..;foo=bar/.;fff=zzz/remain;blah-bluh?query", "/remain;blah-bluh?query"},
	{"/xyz/...;foo", "/xyz/...;foo"},
	{"/xyz/..foo", "/xyz/..foo"},
	// InvalidPaths.
	{"/xyz/.%00../abc", ""},
	{"/xyz/%00.%00./abc", ""},
	{"/xyz/AAAAA%%0000/abc", ""},
	// MergeSlashes, after canonicalization.
	{"/a//b/c/", "/a/b/c/"},
	{"//a/b/c", "/a/b/c"},
	{"/a/b/c//", "/a/b/c/"},
	{"/a////b/c", "/a/b/c"},
	{"/a//b?a=///c", "/a/b?a=///c"},
	{"/a//b?", "/a/b?"},
	{"//a/?b", "/a/?b"},
	// Escaped slashes, any case, before the query only: REJECT_REQUEST.
	{"/a%2Fb", ""},
	{"/a%2fb", ""},
	{"/a%5Cb", ""},
	{"/a%5cb", ""},
	{"%%2fa/", ""},
	{"/a/%2F%2f/c", ""},
	{"/a?next=%2Fb%5c", "/a?next=%2Fb%5c"},
	{"/a%2b", "/a%2b"},
	// Fragments: http_reject_path_with_fragment.
	{"/a#b", ""},
	{"/a?b#c", ""},
	// googleurl's table: unreserved characters are decoded, characters a
	// path may not hold are escaped, reserved escapes are kept as written.
	{"/%61dmin", "/admin"},
	{"/%7E%2D%5F", "/~-_"},
	{"/a b", "/a%20b"},
	{"/a\"<>`{|}^", "/a%22%3C%3E%60%7B%7C%7D%5E"},
	{"/\xc3\xa9", "/%C3%A9"},
	{"/a%20b%3A%3a", "/a%20b%3A%3a"},
	{"/a%zz%", "/a%zz%"},
	{"/%%30%30", "/%2500"},
	{"/!$&'()*+,;=:@[]", "/!$&'()*+,;=:@[]"},
	{"/a/./", "/a/"},
	{"/a/.", "/a/"},
	{"/a/..", "/"},
	{"/..", "/"},
	{"/.a/..b/...", "/.a/..b/..."},
	{"/bookstore.users.v1.Users/Get", "/bookstore.users.v1.Users/Get"},
}

func TestNormalizePathAsEnvoy(t *testing.T) {
	for _, c := range envoyPaths {
		got, ok := NormalizePath(c.in)
		if want := c.want != ""; ok != want || got != c.want {
			t.Errorf("NormalizePath(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, want)
		}
	}
}

// FuzzNormalizePath holds what the agent's check relies on: a path Envoy
// forwards passes the check again unchanged (or a correctly configured
// sidecar's requests would be denied), and holds no dot segment, run of
// slashes, escaped slash or fragment.
func FuzzNormalizePath(f *testing.F) {
	for _, c := range envoyPaths {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, ok := NormalizePath(in)
		if in != "" && normalAsIs(in) && (!ok || n != in) {
			t.Fatalf("normalAsIs(%q), but NormalizePath gives %q, %v", in, n, ok)
		}
		if !ok {
			return
		}
		p := withoutQuery(n)
		// Envoy strips parameters from dot segments before it decodes
		// %2e, so "/%2e;x" reaches the agent as "/.;x", which servers such
		// as Tomcat read as "/": the agent refuses it.
		if again, ok := NormalizePath(n); (!ok || again != n) && !hasDotSegmentParameters(p) {
			t.Fatalf("NormalizePath(%q) = %q, which normalizes to %q, %v", in, n, again, ok)
		}
		if !strings.HasPrefix(p, "/") || strings.Contains(n, "#") {
			t.Fatalf("NormalizePath(%q) = %q", in, n)
		}
		if lower := strings.ToLower(p); strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") || strings.Contains(p, "\\") {
			t.Fatalf("NormalizePath(%q) = %q keeps a slash in disguise", in, n)
		}
		if p != "//" && strings.Contains(p, "//") {
			t.Fatalf("NormalizePath(%q) = %q keeps a run of slashes", in, n)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("NormalizePath(%q) = %q keeps a dot segment", in, n)
			}
		}
	})
}

func hasDotSegmentParameters(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if strings.HasPrefix(seg, ".;") || strings.HasPrefix(seg, "..;") {
			return true
		}
	}
	return false
}

// BenchmarkCheckPath times the path check on a normal request, which is
// what it adds to every Check.
func BenchmarkCheckPath(b *testing.B) {
	req := httpRequest("GET", "/api/books/42?fields=title", map[string]string{":path": "/api/books/42?fields=title"}, "")
	b.ReportAllocs()
	for b.Loop() {
		if err := checkPath(req); err != nil {
			b.Fatal(err)
		}
	}
}
