package cli

import (
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY returns the terminal end of a new pseudo-terminal.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	tty, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80}); err != nil {
		t.Fatalf("set pty size: %v", err)
	}
	return tty
}

func TestForTerminalOnARealTerminal(t *testing.T) {
	tty := openPTY(t)
	t.Setenv("COLUMNS", "")
	t.Setenv("TERM", "xterm")
	t.Setenv("NO_COLOR", "")
	if o := ForTerminal(tty); !o.Colour || o.Width != 80 {
		t.Fatalf("a terminal 80 columns wide: %+v, want colour and width 80", o)
	}
	t.Setenv("NO_COLOR", "1")
	if o := ForTerminal(tty); o.Colour || o.Width != 80 {
		t.Fatalf("NO_COLOR=1 on a terminal: %+v, want no colour and width 80", o)
	}
	f, err := os.Create(t.TempDir() + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Setenv("NO_COLOR", "")
	if o := ForTerminal(f); o.Colour || o.Width != 0 {
		t.Fatalf("a file: %+v, want neither colour nor a width", o)
	}
}
