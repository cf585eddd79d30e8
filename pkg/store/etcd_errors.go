package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrUnavailable is wrapped by every call on a store that cannot reach its
// backing service (etcd unreachable, or without a quorum). Nothing was
// written when a write fails with it, unless the error says the outcome is
// unknown; the API answers it with 503 and /readyz names it.
var ErrUnavailable = errors.New("store unavailable")

// unavailableError says which etcd could not be reached and what follows.
type unavailableError struct {
	endpoints []string
	op        string
	err       error
	// atOpen marks a store that never opened: nothing reconnects then.
	atOpen bool
}

// Error names the endpoints, the operation, the cause and what happens now.
func (e *unavailableError) Error() string {
	next := "writes are refused until it does, and embassy-cp reconnects by itself"
	if e.atOpen {
		next = "check that etcd runs with a quorum and that --etcd-endpoints and the --etcd-cert/--etcd-key/--etcd-ca flags reach it, then start again"
	}
	return fmt.Sprintf("%s: the etcd store (endpoints %s) does not answer or has no quorum (%v); %s",
		e.op, strings.Join(e.endpoints, ","), e.err, next)
}

// atOpen marks err, if it is etcd's unavailability, as happening while the
// store opens.
func atOpen(err error) error {
	var ue *unavailableError
	if errors.As(err, &ue) {
		ue.atOpen = true
	}
	return err
}

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unwrap returns the etcd client's error.
func (e *unavailableError) Unwrap() error { return e.err }

// etcdErr classifies an etcd client error: the caller's own cancellation
// stays as it is, and anything that means "etcd is not there or cannot
// decide" becomes an error wrapping ErrUnavailable. A caller's deadline
// that passes first is the latter: etcd did not answer in time.
func (e *Etcd) etcdErr(parent context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(parent.Err(), context.Canceled) {
		return parent.Err()
	}
	if isUnavailable(err) {
		e.outage.Store(true)
		return &unavailableError{endpoints: e.cfg.Endpoints, op: op, err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// isUnavailable reports errors of an etcd that is down, partitioned or
// electing: our request deadline, gRPC's Unavailable, or etcd's own
// no-leader and timeout errors.
func isUnavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	switch rpctypes.Error(err) {
	case rpctypes.ErrNoLeader, rpctypes.ErrTimeout, rpctypes.ErrTimeoutDueToLeaderFail,
		rpctypes.ErrTimeoutDueToConnectionLost, rpctypes.ErrLeaderChanged, rpctypes.ErrNotCapable,
		rpctypes.ErrStopped, rpctypes.ErrTooManyRequests:
		return true
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
			return true
		}
	}
	return false
}
