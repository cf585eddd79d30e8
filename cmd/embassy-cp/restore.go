package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/controlplane"
	"embassy.dev/embassy/pkg/store"
)

func newRestoreCmd() *cobra.Command {
	var (
		dataDir, from, kind string
		force               bool
		etcd                etcdFlags
	)
	cmd := &cobra.Command{
		Use:   "restore --data-dir DIR --from FILE [--force]",
		Short: "Make a backup (embassyctl backup) the store of a data dir; embassy-cp must be stopped",
		Long: `restore puts a backup made with embassyctl backup in place as the store of
--data-dir, and writes the data dir's record (` + store.RecordFile + `) for it: the
store's id, its trust domain and its CA's roots. The next embassy-cp on that
data dir serves what the backup holds: the same resources, the same mesh CA
(so agents keep trusting it) and the same join tokens.

It refuses a file that is not a backup, and a data dir that a running
embassy-cp holds. A data dir that already holds a store is replaced only with
--force; its database is then kept beside it as ` + store.DBFile + `.replaced-TIME,
never deleted. The admin and read tokens are files of the data dir, not part
of the store: they are kept, and a new data dir gets new ones at the first
start.

Use it when embassy-cp refuses to start because the data dir's database is
missing, empty or another data dir's.

With --store etcd it restores into the etcd store at --etcd-endpoints and
--etcd-prefix instead, in one atomic commit: control planes running on it
see the old store or the restored one, never a mix, but keep the mesh CA
they loaded until they restart, so restart them after a restore. A store
already under the prefix is replaced only with --force, after a backup of
it is written beside the file restored from (FILE.replaced-TIME). The same
backup file restores into either store, so a mesh moves from bbolt to etcd
with a backup and a restore. For an embedded etcd cluster, start the
replicas and restore through one member's client URL (--etcd-endpoints).`,
		Example: `  embassyctl backup -o /secure/embassy.db           # while embassy-cp runs
  embassy-cp restore --data-dir /var/lib/embassy --from /secure/embassy.db --force

  # The same backup into an etcd store
  embassy-cp restore --store etcd --etcd-endpoints http://10.0.0.1:2379 --from /secure/embassy.db`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return errors.New("restore needs --from FILE: a backup made with embassyctl backup -o FILE")
			}
			if kind == "etcd" {
				return restoreEtcd(cmd, &etcd, from, force)
			}
			if kind != "bbolt" {
				return fmt.Errorf("--store %q: restore writes into bbolt or etcd", kind)
			}
			res, rec, err := controlplane.Restore(dataDir, from, force)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "embassy-cp: restored store %s at revision %d from %s into %s\n", rec.StoreID, res.Backup.Revision, from, dataDir)
			if rec.TrustDomain != "" {
				fmt.Fprintf(out, "embassy-cp: its mesh CA serves trust domain %s (roots %v)\n", rec.TrustDomain, rec.CAFingerprints)
			}
			if res.Aside != "" {
				fmt.Fprintf(out, "embassy-cp: the database it replaced is kept at %s\n", res.Aside)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", defaultDataDir, "data dir to restore into")
	f.StringVar(&from, "from", "", "backup file made with embassyctl backup -o FILE")
	f.BoolVar(&force, "force", false, "replace the store the data dir (or etcd prefix) already holds (it is kept aside)")
	f.StringVar(&kind, "store", "bbolt", "store to restore into: bbolt (--data-dir) or etcd (--etcd-endpoints, --etcd-prefix)")
	etcd.add(f)
	return cmd
}

// restoreEtcd restores into the etcd store the flags name.
func restoreEtcd(cmd *cobra.Command, ef *etcdFlags, from string, force bool) error {
	if ef.embedded {
		return errors.New("restore does not run an etcd member: start the replicas and pass one member's client URL as --etcd-endpoints")
	}
	cfg, err := ef.config("")
	if err != nil {
		return err
	}
	res, err := store.RestoreEtcd(cmd.Context(), cfg, from, force)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "embassy-cp: restored store %s (revision %d in the backup) from %s into etcd prefix %s\n",
		res.Backup.StoreID, res.Backup.Revision, from, cfg.Prefix)
	if res.Aside != "" {
		fmt.Fprintf(out, "embassy-cp: a backup of the store it replaced is at %s\n", res.Aside)
	}
	return nil
}
