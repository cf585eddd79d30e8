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
		dataDir, from string
		force         bool
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
missing, empty or another data dir's.`,
		Example: `  embassyctl backup -o /secure/embassy.db           # while embassy-cp runs
  embassy-cp restore --data-dir /var/lib/embassy --from /secure/embassy.db --force`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return errors.New("restore needs --from FILE: a backup made with embassyctl backup -o FILE")
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
	f.BoolVar(&force, "force", false, "replace the store the data dir already holds (its database is kept aside)")
	return cmd
}
