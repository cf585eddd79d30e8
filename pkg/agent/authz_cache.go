package agent

// SetDecisionCache makes every policy loaded from now on cache up to size
// decisions per revision (none when size is 0). Call it before the first
// Update: policies already loaded keep the setting they were made with.
func (a *Authz) SetDecisionCache(size int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.opts.CacheSize = size
}
