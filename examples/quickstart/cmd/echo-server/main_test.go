package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

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
