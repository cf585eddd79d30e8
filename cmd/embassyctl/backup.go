package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/internal/atomicfile"
	"embassy.dev/embassy/pkg/store"
)

func newBackupCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "backup -o FILE",
		Short: "Save a consistent copy of the control plane's store, secrets included",
		Long: `backup saves embassy-cp's whole store to FILE while it keeps serving: every
resource, the mesh CA's roots and keys, and the join tokens (their hashes),
as one transaction saw them. It needs the admin token.

The file is a secret (it holds the CA's private keys): it is written with
mode 0600, through a temporary file that becomes FILE only once the copy is
complete and reads as a store, so FILE is never a partial backup. Keep it
where you keep the CA's keys.

Restore it, with embassy-cp stopped, on the same or a new data dir:

  embassy-cp restore --data-dir DIR --from FILE [--force]

The admin and read tokens are files of the data dir, not part of the store:
a restore on a new data dir makes new ones on the first start.` + exitCodesHelp,
		Example: `  embassyctl backup -o /secure/embassy-$(date +%F).db`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output == "" {
				return errors.New("backup needs -o FILE: where to save the copy (mode 0600)")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			// info is set before the pipe closes, so before Copy returns.
			var info store.BackupInfo
			_, err = atomicfile.Copy(output, backupReader(func(w io.Writer) error {
				var berr error
				info, berr = c.Backup(cmd.Context(), w)
				return berr
			}), 0o600, func(tmp string) error {
				_, err := store.InspectBackup(tmp)
				return err
			})
			if err != nil {
				return fmt.Errorf("backup to %s: %w (nothing was written there)", output, err)
			}
			fmt.Fprintf(g.stdout, "backup of store %s at revision %d written to %s (%d bytes, mode 0600)\n", info.StoreID, info.Revision, output, info.Size)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "file to write the backup to (mode 0600; replaced only by a complete backup)")
	return cmd
}

// backupReader turns a function writing to a writer into a reader, so the
// download streams into atomicfile.Copy without holding it in memory.
func backupReader(write func(io.Writer) error) io.Reader {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(write(pw)) }()
	return pr
}
