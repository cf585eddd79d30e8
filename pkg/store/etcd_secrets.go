package store

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// GetSecret returns a copy of the named secret, or an error wrapping
// ErrNotFound. The secret is read from etcd as it is stored there: what
// is secret about it is the caller's to encrypt.
func (e *Etcd) GetSecret(name string) ([]byte, error) {
	if err := checkSecretName(name); err != nil {
		return nil, err
	}
	release, err := e.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	v, ok, err := e.readOne(context.Background(), fmt.Sprintf("get secret %q", name), e.keys.secret(name))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("secret %q: %w", name, ErrNotFound)
	}
	return append([]byte{}, v...), nil
}

// PutSecret stores value under name, outside the resource revision.
func (e *Etcd) PutSecret(name string, value []byte) error {
	if err := checkSecretName(name); err != nil {
		return err
	}
	release, err := e.enter()
	if err != nil {
		return err
	}
	defer release()
	_, err = e.txn(context.Background(), fmt.Sprintf("put secret %q", name), nil,
		[]clientv3.Op{clientv3.OpPut(e.keys.secret(name), string(value))})
	return err
}

// SwapSecret stores value under name if the secret still holds old (nil:
// if it is absent), with an etcd transaction guarded on the value, so
// control planes sharing the store cannot both win.
func (e *Etcd) SwapSecret(name string, old, value []byte) error {
	if err := checkSecretName(name); err != nil {
		return err
	}
	release, err := e.enter()
	if err != nil {
		return err
	}
	defer release()
	key := e.keys.secret(name)
	guard := clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
	if old != nil {
		guard = clientv3.Compare(clientv3.Value(key), "=", string(old))
	}
	ok, err := e.txn(context.Background(), fmt.Sprintf("swap secret %q", name), []clientv3.Cmp{guard},
		[]clientv3.Op{clientv3.OpPut(key, string(value))})
	if err != nil {
		return err
	}
	if !ok {
		return secretChanged(name, old)
	}
	return nil
}
