package service

import (
	"crypto/x509"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/store"
)

// SecretIssuances names the store secret that keeps the issuance records.
const SecretIssuances = "identity/issuances"

// Issuance is what the control plane remembers of the SVIDs of one agent:
// the latest certificate, and what its join token allowed. Renewals carry
// the record forward, matched by the serial of the certificate presented.
type Issuance struct {
	SPIFFEID string `json:"spiffeID"`
	// Workload is the workload the agent attested or last registered as.
	Workload string `json:"workload,omitempty"`
	// OnlyWorkload is the join token's workload restriction ("" for none).
	OnlyWorkload string `json:"onlyWorkload,omitempty"`
	// OnlyServices is the join token's service restriction (none when
	// empty): the holder may register for these services alone. Renewals
	// keep it, since they carry the record forward.
	OnlyServices []string `json:"onlyServices,omitempty"`
	TokenID      string   `json:"tokenID,omitempty"`
	// Serial and NotAfter are the latest certificate's; IssuedAt is when
	// it was signed (the last rotation), FirstIssuedAt the attestation.
	Serial        string    `json:"serial"`
	NotAfter      time.Time `json:"notAfter"`
	IssuedAt      time.Time `json:"issuedAt"`
	FirstIssuedAt time.Time `json:"firstIssuedAt"`
	// Issuer names the external CA that issued the certificates (the
	// SPIRE agent's socket), which this control plane only saw at
	// registration; "" when it signed them itself.
	Issuer string `json:"issuer,omitempty"`
	// Live maps the serial of every certificate of the record that has not
	// expired to its expiry, so an agent still using the previous one is
	// recognised.
	Live map[string]time.Time `json:"live"`
}

// issuances keeps the records, persisted as one secret.
type issuances struct {
	sec store.Secrets
	now func() time.Time
	log hclog.Logger

	// mu orders this control plane's changes; SwapSecret orders them
	// with other control planes' on the same store.
	mu sync.Mutex
	// byKey holds a record per identity, attested workload and token
	// restriction, so re-attesting the same agent replaces its record. It
	// is the store's as last read (raw, nil when absent), with any change
	// the store could not take laid over it.
	byKey map[string]*Issuance
	raw   []byte
}

func recordKey(id, workload, only string, services []string) string {
	return id + "|" + workload + "|" + only + "|" + strings.Join(services, ",")
}

func loadIssuances(sec store.Secrets, now func() time.Time, log hclog.Logger) (*issuances, error) {
	is := &issuances{sec: sec, now: now, log: log, byKey: map[string]*Issuance{}}
	if err := is.loadLocked(); err != nil {
		return nil, err
	}
	return is, nil
}

// attested records the first SVID of an attestation with token.
func (is *issuances) attested(id spiffeid.ID, workload string, token identity.TokenInfo, leaf *x509.Certificate) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.updateLocked(func(byKey map[string]*Issuance) bool {
		k := recordKey(id.String(), workload, token.Workload, token.Services)
		r := byKey[k]
		if r == nil {
			r = &Issuance{SPIFFEID: id.String(), Workload: workload, OnlyWorkload: token.Workload, OnlyServices: token.Services, Live: map[string]time.Time{}}
			byKey[k] = r
		}
		r.TokenID, r.FirstIssuedAt = token.ID, is.now()
		add(r, leaf, is.now())
		return true
	})
}

// renewed records the SVID that replaces presented, carrying its record
// (and so its join token's limits) forward. It reports false, recording
// nothing, when no record holds presented: a record started here would
// hold no limits, and the holder could then register as any workload of
// its identity and for any service its service account may serve.
func (is *issuances) renewed(id spiffeid.ID, presented, leaf *x509.Certificate) bool {
	is.mu.Lock()
	defer is.mu.Unlock()
	found := false
	is.updateLocked(func(byKey map[string]*Issuance) bool {
		r := findIn(byKey, id, presented)
		if found = r != nil; found {
			add(r, leaf, is.now())
		}
		return found
	})
	return found
}

// scopeOf returns the issuance record of the certificate c presented,
// which holds its join token's limits. Under the builtin CA every SVID it
// signs has one, kept in the store's secrets across restarts and carried
// forward by renewals, so none is missing in normal operation; one can be
// missing after its save failed, after a restore from a backup older than
// the SVID, or when its holder renewed with it so often that its serial
// left the record (see maxLive). Such an SVID is refused for doing with PermissionDenied,
// rather than trusted without the limits its token set. Under an external
// CA there are no join tokens, and the record starts at registration.
func (s *Service) scopeOf(c caller, doing string) (Issuance, error) {
	rec, ok := s.issued.find(c.id, c.leaf)
	if ok || s.cfg.External != "" {
		return rec, nil
	}
	return Issuance{}, s.noRecord(c, doing)
}

// noRecord is the refusal of an SVID without an issuance record. The
// agent re-attests when given a new join token, so the message says how.
func (s *Service) noRecord(c caller, doing string) error {
	s.log.Warn("refused an SVID without an issuance record", "spiffe_id", c.id.String(), "serial", serialOf(c.leaf), "refused", doing)
	return status.Errorf(codes.PermissionDenied,
		"%s refused: embassy-cp has no issuance record of SVID serial %s for %s, so it cannot tell which workload and services its join token allowed: "+
			"give the agent a new join token (embassyctl token create --namespace %s --service-account %s [--workload NAME] [--service NAME]) to re-attest with",
		doing, serialOf(c.leaf), c.id, c.ns, c.sa)
}

// maxLive bounds the serials a record remembers: an agent presents its
// latest certificate or the one before, so a few cover any renewal race,
// and the records stay small however often an identity is renewed.
const maxLive = 4

// add makes leaf, issued at issuedAt, the record's latest certificate.
func add(r *Issuance, leaf *x509.Certificate, issuedAt time.Time) {
	serial := serialOf(leaf)
	r.Serial, r.NotAfter, r.IssuedAt = serial, leaf.NotAfter, issuedAt
	r.Live[serial] = leaf.NotAfter
	for len(r.Live) > maxLive {
		oldest := ""
		for s, exp := range r.Live {
			if s == serial {
				continue
			}
			if oldest == "" || exp.Before(r.Live[oldest]) || (exp.Equal(r.Live[oldest]) && s < oldest) {
				oldest = s
			}
		}
		delete(r.Live, oldest)
	}
}

// find returns a copy of the record that issued presented, if any. A
// record this control plane has not seen is looked for in the store: its
// holder attested or renewed on another control plane of the same store.
func (is *issuances) find(id spiffeid.ID, presented *x509.Certificate) (Issuance, bool) {
	is.mu.Lock()
	defer is.mu.Unlock()
	r := findIn(is.byKey, id, presented)
	if r == nil && is.loadLocked() == nil {
		r = findIn(is.byKey, id, presented)
	}
	if r == nil {
		return Issuance{}, false
	}
	return *r, true
}

// findIn returns the record of byKey that holds presented.
func findIn(byKey map[string]*Issuance, id spiffeid.ID, presented *x509.Certificate) *Issuance {
	serial := serialOf(presented)
	for _, r := range byKey {
		if _, ok := r.Live[serial]; ok && r.SPIFFEID == id.String() {
			return r
		}
	}
	return nil
}

// registered notes the workload name the holder of presented registered.
func (is *issuances) registered(id spiffeid.ID, presented *x509.Certificate, workload string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.updateLocked(func(byKey map[string]*Issuance) bool {
		r := findIn(byKey, id, presented)
		if r == nil || r.Workload == workload {
			return false
		}
		r.Workload = workload
		return true
	})
}

// observed records a certificate an external CA issued, as its holder
// presented it when registering workload: a serial not seen before is a
// rotation, dated by the certificate's NotBefore.
func (is *issuances) observed(id spiffeid.ID, presented *x509.Certificate, workload, issuer string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.updateLocked(func(byKey map[string]*Issuance) bool {
		if r := findIn(byKey, id, presented); r != nil {
			if r.Workload == workload {
				return false
			}
			r.Workload = workload
			return true
		}
		k := recordKey(id.String(), workload, "", nil)
		r := byKey[k]
		if r == nil {
			r = &Issuance{SPIFFEID: id.String(), Workload: workload, Issuer: issuer, Live: map[string]time.Time{}, FirstIssuedAt: presented.NotBefore}
			byKey[k] = r
		}
		add(r, presented, presented.NotBefore)
		return true
	})
}

// prune forgets expired serials, and records with none left.
func prune(byKey map[string]*Issuance, now time.Time) {
	for k, r := range byKey {
		for s, exp := range r.Live {
			if now.After(exp) {
				delete(r.Live, s)
			}
		}
		if len(r.Live) == 0 {
			delete(byKey, k)
		}
	}
}

// list returns copies of every record with a live certificate, sorted by
// SPIFFE ID then workload.
func (is *issuances) list() []Issuance {
	is.mu.Lock()
	defer is.mu.Unlock()
	// A store that cannot be read leaves the records as last read.
	_ = is.loadLocked()
	prune(is.byKey, is.now())
	out := make([]Issuance, 0, len(is.byKey))
	for _, r := range is.byKey {
		c := *r
		c.Live = nil
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].SPIFFEID != out[j].SPIFFEID {
			return out[i].SPIFFEID < out[j].SPIFFEID
		}
		return out[i].Workload < out[j].Workload
	})
	return out
}

// Issuances returns the record of every agent holding a live SVID, for
// the certificates API.
func (s *Service) Issuances() []Issuance { return s.issued.list() }
