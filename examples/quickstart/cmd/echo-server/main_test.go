package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/internal/echo"
)

// asMain makes the test binary run as echo-server, so the test drives the
// real program, signals included, without a separate build.
const asMain = "ECHO_SERVER_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestServesItsNameAndStopsOnSIGTERM(t *testing.T) {
	cmd := exec.Command(os.Args[0], "--addr", "127.0.0.1:0", "--name", "v7")
	cmd.Env = append(os.Environ(), asMain+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("no start-up line: %v", err)
	}
	const prefix = "echo-server v7 listening on "
	if !strings.HasPrefix(line, prefix) {
		t.Fatalf("start-up line = %q", line)
	}
	addr := strings.TrimSpace(strings.TrimPrefix(line, prefix))

	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := echo.Call(ctx, cc, "hi")
	if err != nil || got != "v7" {
		t.Fatalf("Call = %q, %v; want v7", got, err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

// startServer runs the program with args and returns its address and the
// command; the start-up line gives the address.
func startServer(t *testing.T, args ...string) (string, *exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), asMain+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	r := bufio.NewReader(out)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("no start-up line: %v", err)
	}
	i := strings.LastIndex(line, " ")
	return strings.TrimSpace(line[i+1:]), cmd, r
}

func TestFailEveryDelayAndServedCount(t *testing.T) {
	addr, cmd, out := startServer(t, "--name", "v3", "--fail-every", "2", "--fail-code", "RESOURCE_EXHAUSTED", "--delay", "50ms")
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	start := time.Now()
	for _, m := range []string{echo.CallMethod, echo.OtherMethod, echo.CallMethod, echo.OtherMethod} {
		v, err := echo.Invoke(ctx, cc, m, "x")
		got = append(got, v+"/"+status.Code(err).String())
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("4 calls with --delay 50ms took %s", d)
	}
	want := "v3/OK /ResourceExhausted v3/OK /ResourceExhausted"
	if strings.Join(got, " ") != want {
		t.Fatalf("answers = %q, want %q", strings.Join(got, " "), want)
	}
	if n, err := echo.Served(ctx, cc); err != nil || n != 4 {
		t.Fatalf("Served = %d, %v; want 4", n, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(out)
	if !strings.Contains(string(rest), "echo-server v3 served 4 attempts") {
		t.Errorf("output after SIGTERM = %q", rest)
	}
}

func TestBadFailCodeExits2(t *testing.T) {
	for _, code := range []string{"OK", "NOPE"} {
		cmd := exec.Command(os.Args[0], "--addr", "127.0.0.1:0", "--fail-every", "2", "--fail-code", code)
		cmd.Env = append(os.Environ(), asMain+"=1")
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Errorf("--fail-code %s: exit = %v, want status 2", code, err)
		}
	}
}
