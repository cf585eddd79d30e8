package extauthz

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"embassy.dev/embassy/pkg/dataplane"
)

// ListenUnix listens on dir/authz.sock, replacing a socket left by an
// earlier run (but no other kind of file). The socket is private to the
// agent's user and group, like the agent's other sockets.
func ListenUnix(dir string) (net.Listener, error) {
	path := filepath.Join(dir, dataplane.AuthzSocket)
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o660); err != nil {
		lis.Close()
		return nil, err
	}
	return lis, nil
}

// ListenLoopback listens on 127.0.0.1:port; port 0 picks a free one.
func ListenLoopback(port int) (net.Listener, error) {
	return net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
}
