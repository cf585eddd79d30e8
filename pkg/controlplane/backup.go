package controlplane

import (
	"fmt"

	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/store"
)

// Restore makes the backup at from (made by embassyctl backup) the store
// of dataDir, as store.RestoreBolt does, and names the backup's CA in the
// dir's record, so that the first start on it checks the CA it finds. It
// returns what was restored and the record written. embassy-cp must be
// stopped.
func Restore(dataDir, from string, force bool) (store.RestoreResult, store.Record, error) {
	res, err := store.RestoreBolt(dataDir, from, force)
	if err != nil {
		return res, store.Record{}, err
	}
	b, err := store.OpenBolt(dataDir)
	if err != nil {
		return res, store.Record{}, fmt.Errorf("open the restored store: %w", err)
	}
	defer b.Close()
	td, err := storedCATrustDomain(b)
	if err != nil || td == "" {
		// A store without a builtin CA: the first start makes or loads one.
		return res, b.Record(), err
	}
	ca, err := identity.LoadOrCreateCA(b, identity.CAConfig{TrustDomain: td}, nil)
	if err != nil {
		return res, b.Record(), fmt.Errorf("the restored store's mesh CA: %w", err)
	}
	if err := recordRoots(b, ca); err != nil {
		return res, b.Record(), err
	}
	return res, b.Record(), nil
}

// storeBackup is the API's backup of the store, nil for a store that keeps
// nothing across restarts.
func (c *ControlPlane) storeBackup() api.BackupFunc {
	switch s := c.store.(type) {
	case *store.Bolt:
		return s.Backup
	case *store.Etcd:
		return s.Backup
	}
	return nil
}
