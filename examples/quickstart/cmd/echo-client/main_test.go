package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"

	"embassy.dev/embassy/internal/echo"
	"embassy.dev/embassy/pkg/bootstrap"
)

// asMain makes the test binary behave as echo-client, so the tests run the
// real program (flags, --bootstrap re-exec and all) as a child process
// without a separate build: grpc-go reads its bootstrap at start-up, so the
// client must be a process of its own anyway.
const asMain = "ECHO_CLIENT_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startEcho serves echo on a loopback port answering with name.
func startEcho(t *testing.T, name string) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	echo.Register(s, name)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

// setup starts two echo versions and a fake control plane, and writes the
// client's bootstrap.
func setup(t *testing.T, weights map[string]uint32) (*fakeCP, string) {
	t.Helper()
	cp := startFakeCP(t, map[string]string{"v1": startEcho(t, "v1"), "v2": startEcho(t, "v2")})
	cp.setWeights(t, weights)
	js, err := bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: testNode, XDSAddress: cp.addr})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "bootstrap.json")
	if err := os.WriteFile(file, js, 0o600); err != nil {
		t.Fatal(err)
	}
	return cp, file
}

// client returns the echo-client command, with the bootstrap variables
// cleared so --bootstrap has to do its work.
func client(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envBootstrapFile+"=") && !strings.HasPrefix(kv, envBootstrapConfig+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, asMain+"=1")
	return cmd
}

func TestBurstSplitsByRouteWeights(t *testing.T) {
	_, file := setup(t, map[string]uint32{"v1": 80, "v2": 20})
	var stdout, stderr bytes.Buffer
	cmd := client("--bootstrap", file, "--target", "xds:///echo.default:50051", "--count", "1000", "--concurrency", "4", "--json")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("echo-client: %v\n%s", err, stderr.String())
	}
	var got tally
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
	}
	if got.Total != 1000 || got.Errors != 0 {
		t.Fatalf("total %d errors %d (%s)", got.Total, got.Errors, got.FirstError)
	}
	// 80% of 1000 has a standard deviation of about 13; allow ~5 of them.
	if v1 := got.ByBackend["v1"]; v1 < 740 || v1 > 860 || v1+got.ByBackend["v2"] != 1000 {
		t.Fatalf("split = %v, want about 800/200", got.ByBackend)
	}
}

func TestWatchSeesTrafficMove(t *testing.T) {
	cp, file := setup(t, map[string]uint32{"v1": 100, "v2": 0})
	cmd := client("--bootstrap", file, "--interval", "100ms", "--duration", "1500ms", "--concurrency", "2", "--json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	var intervals []tally
	for lines.Scan() {
		var iv tally
		if err := json.Unmarshal(lines.Bytes(), &iv); err != nil {
			t.Fatalf("line %q: %v", lines.Text(), err)
		}
		intervals = append(intervals, iv)
		if len(intervals) == 2 {
			// Two intervals on v1 seen: move everything to v2.
			cp.setWeights(t, map[string]uint32{"v1": 0, "v2": 100})
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("echo-client: %v\n%s", err, stderr.String())
	}
	if len(intervals) < 8 {
		t.Fatalf("got %d interval lines over 1.5s at 100ms, want at least 8", len(intervals))
	}
	for i, iv := range intervals[:2] {
		if iv.ByBackend["v2"] != 0 || iv.ByBackend["v1"] == 0 {
			t.Errorf("interval %d before the change: %+v", i, iv)
		}
	}
	last := intervals[len(intervals)-2] // the last full interval
	if last.ByBackend["v1"] != 0 || last.ByBackend["v2"] == 0 || last.Errors != 0 {
		t.Errorf("last full interval after the change: %+v", last)
	}
	for i, iv := range intervals {
		if iv.ElapsedMS <= 0 {
			t.Errorf("interval %d has no elapsedMs", i)
		}
	}
}

func TestNotReadyFailsWithinReadyTimeout(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bootstrap.json")
	// A control plane address nobody listens on.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	js, _ := bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: testNode, XDSAddress: addr})
	if err := os.WriteFile(file, js, 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := client("--bootstrap", file, "--ready-timeout", "300ms", "--count", "1")
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want status 1\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "not ready after 300ms") {
		t.Errorf("stderr = %q", stderr.String())
	}
}

func TestBadFlagsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"--interval", "1s"},
		{"--concurrency", "0"},
		{"extra"},
	} {
		cmd := client(args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Errorf("%v: exit = %v, want status 2", args, err)
		}
	}
}
