package demoha

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
)

// interval is one line echo-client prints in watch mode (--json
// --interval): that interval's calls.
type interval struct {
	Total      int            `json:"total"`
	Errors     int            `json:"errors"`
	ByBackend  map[string]int `json:"byBackend"`
	FirstError string         `json:"firstError"`
	at         time.Time
}

// traffic follows a proxyless client's interval lines as it prints them.
type traffic struct {
	p    *proc
	mu   sync.Mutex
	seen int
	ivs  []interval
}

// follow reads the client's new lines every 100 ms until stop closes.
func (tr *traffic) follow(stop <-chan struct{}) {
	for {
		tr.read()
		select {
		case <-stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (tr *traffic) read() {
	lines := strings.Split(tr.p.output(), "\n")
	tr.mu.Lock()
	defer tr.mu.Unlock()
	// The last element is an unfinished line (or empty): leave it.
	for ; tr.seen < len(lines)-1; tr.seen++ {
		var iv interval
		if l := lines[tr.seen]; strings.HasPrefix(l, "{") && json.Unmarshal([]byte(l), &iv) == nil {
			iv.at = time.Now()
			tr.ivs = append(tr.ivs, iv)
		}
	}
}

// totals are the calls made and failed so far, and the first failure.
func (tr *traffic) totals() (calls, failed int, firstError string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, iv := range tr.ivs {
		calls, failed = calls+iv.Total, failed+iv.Errors
		if firstError == "" {
			firstError = iv.FirstError
		}
	}
	return calls, failed, firstError
}

// since is the intervals printed after t.
func (tr *traffic) since(t time.Time) []interval {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []interval
	for _, iv := range tr.ivs {
		if iv.at.After(t) {
			out = append(out, iv)
		}
	}
	return out
}

// follows says whether the last interval printed after t had no failed
// call and split its calls as to says, within 15 points: an interval
// holds hundreds of calls, so the old split is never taken for the new.
func (tr *traffic) follows(t time.Time, to split) bool {
	ivs := tr.since(t)
	if len(ivs) == 0 {
		return false
	}
	last := ivs[len(ivs)-1]
	if last.Total == 0 || last.Errors != 0 {
		return false
	}
	v1 := 100 * float64(last.ByBackend["v1"]) / float64(last.Total)
	return v1 > float64(to)-15 && v1 < float64(to)+15
}

// lastSplit describes the last interval's calls by backend.
func (tr *traffic) lastSplit() string {
	ivs := tr.since(time.Time{})
	if len(ivs) == 0 {
		return "no calls yet"
	}
	last := ivs[len(ivs)-1]
	return fmt.Sprintf("last 0.5s: v1 %d, v2 %d, failed %d", last.ByBackend["v1"], last.ByBackend["v2"], last.Errors)
}
