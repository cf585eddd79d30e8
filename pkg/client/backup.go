package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/store"
)

// Backup streams a consistent copy of the store, secrets included, into w
// (admin only) and returns what it copies. A body cut short of its
// announced size is an error: what w holds then is no backup. Only ctx
// bounds the transfer, which may outlast the client's usual timeout.
func (c *Client) Backup(ctx context.Context, w io.Writer) (store.BackupInfo, error) {
	u := c.server + "/v1/backup"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return store.BackupInfo{}, fmt.Errorf("build request for %s: %w (check --server)", u, err)
	}
	resp, err := c.doUnbounded(req)
	if err != nil {
		return store.BackupInfo{}, fmt.Errorf("GET %s: %w (is embassy-cp running there? set --server or EMBASSY_SERVER)", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return store.BackupInfo{}, errorFrom(resp.StatusCode, data)
	}
	info := store.BackupInfo{StoreID: resp.Header.Get(apiwire.HeaderStoreID), Size: resp.ContentLength}
	info.Revision, _ = strconv.ParseInt(resp.Header.Get(apiwire.HeaderRevision), 10, 64)
	if info.Size < 0 || info.StoreID == "" {
		return info, fmt.Errorf("GET %s answered without its size or store id: is it an embassy-cp?", u)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return info, fmt.Errorf("backup cut short after %d of %d bytes: %w", n, info.Size, err)
	}
	if n != info.Size {
		return info, fmt.Errorf("backup cut short after %d of %d bytes", n, info.Size)
	}
	return info, nil
}
