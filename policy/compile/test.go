package compile

import (
	"context"
	"fmt"
	"io"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// Test runs the Rego tests (rules named test_*) of the .rego files under dir
// with OPA's test runner, data.json files mounted under data at their
// directory's path as `opa test` does. It prints what `opa test` prints
// (with verbose, a PASS/FAIL line and duration per test) and a summary such
// as "PASS: 3/3" or "FAIL: 1/3". A module that does not parse or compile is
// returned as Errors with OPA's locations; errors inside a test count as
// failures.
func Test(dir string, w io.Writer, verbose bool) (passed, failed int, err error) {
	modules, store, err := tester.LoadWithRegoVersion([]string{dir}, nil, ast.RegoV1)
	if err != nil {
		return 0, 0, fromOPA(err)
	}
	ctx := context.Background()
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer store.Abort(ctx, txn)

	runner := tester.NewRunner().
		SetStore(store).
		SetModules(modules).
		SetDefaultRegoVersion(ast.RegoV1).
		CapturePrintOutput(true)
	results, err := runner.RunTests(ctx, txn)
	if err != nil {
		return 0, 0, fromOPA(err)
	}

	// Count while the reporter prints: the reporter has the output format,
	// the caller needs the numbers.
	counted := make(chan *tester.Result)
	done := make(chan error, 1)
	go func() {
		done <- tester.PrettyReporter{Output: w, Verbose: verbose}.Report(counted)
	}()
	for r := range results {
		p, f := count(r)
		passed += p
		failed += f
		counted <- r
	}
	close(counted)
	if err := <-done; err != nil {
		return passed, failed, err
	}
	if passed+failed == 0 {
		fmt.Fprintln(w, "no tests found")
	}
	return passed, failed, nil
}

// count returns the passes and failures in one result, counting the leaves
// of table tests as the reporter does, and an erroring test as a failure.
func count(r *tester.Result) (passed, failed int) {
	switch {
	case r.Skip:
		return 0, 0
	case r.Error != nil:
		return 0, 1
	}
	if len(r.SubResults) > 0 {
		for _, sr := range r.SubResults.Iter {
			if len(sr.SubResults) > 0 {
				continue
			}
			if sr.Fail {
				failed++
			} else {
				passed++
			}
		}
		return passed, failed
	}
	if r.Fail {
		return 0, 1
	}
	return 1, 0
}
