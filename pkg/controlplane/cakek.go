package controlplane

import (
	"fmt"

	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/store"
)

// caSecrets is the store's secrets with the CA's private keys sealed
// under the key-encryption key. A store shared over the network (etcd)
// must be given one: its members, its snapshots and anyone granted its
// prefix would otherwise read the CA's keys. On a bbolt file the key is
// optional: the file is this machine's, mode 0600, as the key file would
// be, so sealing adds nothing there unless backups travel.
func (c *ControlPlane) caSecrets() (store.Secrets, error) {
	sec, ok := c.store.(store.Secrets)
	if !ok {
		return nil, fmt.Errorf("the %s store keeps no secrets: the CA needs them", c.store.Kind())
	}
	_, shared := c.store.(*store.Etcd)
	var kek []byte
	switch {
	case c.cfg.CAKeyEncryptionKeyFile != "":
		var err error
		if kek, err = identity.ReadKEKFile(c.cfg.CAKeyEncryptionKeyFile); err != nil {
			return nil, err
		}
	case shared:
		return nil, fmt.Errorf("the etcd store needs --ca-key-encryption-key-file: the CA's private keys are stored in etcd only sealed with it; " +
			"make one with `head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE` and give every replica the same file")
	}
	return identity.SealCASecrets(sec, kek)
}
