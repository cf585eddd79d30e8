package api

import (
	"io"
	"net/http"
	"strconv"
	"time"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/store"
)

// backupIdle bounds how long a backup waits on a client that reads
// nothing: the copy holds a read transaction, and the store cannot grow its
// file while one is open, so a stalled client must not keep it.
const backupIdle = 30 * time.Second

// BackupFunc writes a consistent copy of the store to the writer begin
// returns; (*store.Bolt).Backup is one.
type BackupFunc func(begin func(store.BackupInfo) (io.Writer, error)) (int64, error)

// backup streams a copy of the whole store, secrets included (the CA's
// keys, the join tokens' hashes), to the admin. Nothing of it is logged.
func (s *server) backup(w http.ResponseWriter, r *http.Request) {
	if s.o.Backup == nil {
		writeError(w, http.StatusNotImplemented, "this control plane's store keeps nothing across restarts (--store memory): there is nothing to back up")
		return
	}
	var info store.BackupInfo
	started := false
	n, err := s.o.Backup(func(i store.BackupInfo) (io.Writer, error) {
		info, started = i, true
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.FormatInt(i.Size, 10))
		h.Set("Cache-Control", "no-store")
		h.Set(apiwire.HeaderStoreID, i.StoreID)
		h.Set(apiwire.HeaderRevision, strconv.FormatInt(i.Revision, 10))
		return idleWriter{w: w, rc: http.NewResponseController(w)}, nil
	})
	switch {
	case err != nil && !started:
		writeError(w, http.StatusInternalServerError, "backing up the store failed: "+err.Error())
	case err != nil:
		// The body is cut short of its Content-Length: the client sees it.
		s.log.Error("a backup was cut short", "store_id", info.StoreID, "bytes", n, "of", info.Size, "error", err)
	default:
		s.log.Info("backup served", "store_id", info.StoreID, "revision", info.Revision, "bytes", n, "remote", r.RemoteAddr)
	}
}

// idleWriter moves the connection's write deadline backupIdle ahead of
// every write, so a transfer may take as long as it needs while the client
// keeps reading.
type idleWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

// Write writes p after moving the write deadline.
func (i idleWriter) Write(p []byte) (int, error) {
	// A writer without deadlines (a test recorder) still gets the bytes.
	_ = i.rc.SetWriteDeadline(time.Now().Add(backupIdle))
	return i.w.Write(p)
}
