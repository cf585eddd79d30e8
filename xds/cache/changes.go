package cache

// changedVersions lists, by type URL, the versions of v that differ from
// old's (every type when old is nil): what a push changes for a node, so
// a change can be followed to each proxy's answer.
func changedVersions(old, v *view) map[string]string {
	if old == v {
		return nil
	}
	var out map[string]string
	for _, typ := range servedTypes {
		now, was := v.GetVersion(typ), ""
		if old != nil {
			was = old.GetVersion(typ)
		}
		if now != was {
			if out == nil {
				out = map[string]string{}
			}
			out[typ] = now
		}
	}
	return out
}
