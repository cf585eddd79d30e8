package identity

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"embassy.dev/embassy/pkg/jointoken"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

// SecretTokens is the secret that holds the join tokens (hashed).
const SecretTokens = "tokens"

// Redeem refusals. Unknown IDs and wrong secrets look the same, and a
// token's state is revealed only to someone who holds its secret.
var (
	ErrTokenInvalid = jointoken.ErrInvalid
	ErrTokenExpired = errors.New("join token has expired: create a new one")
	ErrTokenUsed    = errors.New("single-use join token was already used: create a new one")
	ErrTokenRevoked = errors.New("join token was revoked: create a new one")
	ErrTokenUnknown = errors.New("no join token has this ID")
)

// TokenInfo describes a join token; it never holds the secret.
type TokenInfo struct {
	ID             string `json:"id"`
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	Workload       string `json:"workload,omitempty"`
	// Services, when set, are the only services the token's agent may
	// register its workload for (each must also allow its service account).
	Services  []string   `json:"services,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	SingleUse bool       `json:"singleUse"`
	UsedAt    *time.Time `json:"usedAt,omitempty"`
	Revoked   bool       `json:"revoked"`
	Uses      int        `json:"uses"`
}

// storedToken is a token as SecretTokens holds it.
type storedToken struct {
	TokenInfo
	// Hash is the hex SHA-256 of the secret part.
	Hash string `json:"hash"`
}

// Tokens manages join tokens, kept hashed in the store's Secrets. It is
// safe for concurrent use.
type Tokens struct {
	sec store.Secrets
	now func() time.Time

	// mu orders this control plane's own changes; SwapSecret orders them
	// with other control planes' on the same store.
	mu sync.Mutex
	// tokens is the set as last read from the store, decoded from raw
	// (nil when the secret did not exist). Every change reads it again.
	tokens map[string]*storedToken
	raw    []byte
}

// NewTokens loads the join tokens from sec (SecretTokens). now is the clock
// (time.Now when nil).
func NewTokens(sec store.Secrets, now func() time.Time) (*Tokens, error) {
	if sec == nil {
		return nil, fmt.Errorf("join tokens need the store's Secrets to persist")
	}
	if now == nil {
		now = time.Now
	}
	t := &Tokens{sec: sec, now: now, tokens: map[string]*storedToken{}}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.loadLocked(); err != nil {
		return nil, err
	}
	return t, nil
}

// MaxTokenTTL is the longest lifetime a join token may be given: a token
// is a bearer credential for an identity, so one that outlives a year of
// rotations is better made again (a TTL of 0, never expiring, is still
// allowed, and the audit reports it).
const MaxTokenTTL = 365 * 24 * time.Hour

// ParseTokenTTL reads a token's TTL, a Go duration from 0 (never expires)
// to MaxTokenTTL, with a message that says which bound was missed.
func ParseTokenTTL(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("ttl %q is not a duration from 0 to %s: use a Go duration such as 30m or 24h, or 0 for a token that never expires", s, ttlText(MaxTokenTTL))
	}
	return d, CheckTokenTTL(d)
}

// CheckTokenTTL refuses a negative TTL or one longer than MaxTokenTTL.
func CheckTokenTTL(d time.Duration) error {
	switch {
	case d < 0:
		return fmt.Errorf("ttl %s is negative: use a positive duration up to %s, or 0 for a token that never expires", ttlText(d), ttlText(MaxTokenTTL))
	case d > MaxTokenTTL:
		return fmt.Errorf("ttl %s is longer than the maximum %s: create a shorter-lived token, and a new one when it expires", ttlText(d), ttlText(MaxTokenTTL))
	}
	return nil
}

// ttlText renders a TTL in hours, and in days when it is long.
func ttlText(d time.Duration) string {
	h := d.String()
	if rest, ok := strings.CutSuffix(h, "m0s"); ok {
		h = rest + "m"
	}
	if rest, ok := strings.CutSuffix(h, "h0m"); ok {
		h = rest + "h"
	}
	if d >= 48*time.Hour || d <= -48*time.Hour {
		return fmt.Sprintf("%s (%d days)", h, d/(24*time.Hour))
	}
	return h
}

// tokenName is one name a token grants, with the flag that sets it.
type tokenName struct{ what, flag, value string }

// checkTokenNames checks the names a token grants like resource names, so
// a token is never made for an identity no Workload or Service could use.
func checkTokenNames(ns, sa, workload string, services []string) error {
	names := []tokenName{{"namespace", "--namespace", ns}, {"service account", "--service-account", sa}}
	if workload != "" {
		names = append(names, tokenName{"workload", "--workload", workload})
	}
	for _, svc := range services {
		names = append(names, tokenName{"service", "--service", svc})
	}
	for _, n := range names {
		if err := resource.CheckName(n.value); err != nil {
			return fmt.Errorf("join token %s (%s) %v", n.what, n.flag, err)
		}
	}
	if i := firstDuplicate(services); i >= 0 {
		return fmt.Errorf("join token service (--service) %q is named twice", services[i])
	}
	return nil
}

// firstDuplicate is the index of the first name that repeats an earlier
// one, or -1.
func firstDuplicate(names []string) int {
	for i, n := range names {
		if slices.Contains(names[:i], n) {
			return i
		}
	}
	return -1
}

// Create makes a join token for namespace ns and service account sa (and,
// optionally, the workload the agent will register and the only services
// it may register for). ttl 0 makes a token that never expires. It
// returns the secret, "emb1.<id>.<secret>", which is shown once: only the
// SHA-256 of its secret part is stored.
func (t *Tokens) Create(ns, sa, workload string, ttl time.Duration, singleUse bool, services ...string) (string, TokenInfo, error) {
	if err := checkTokenNames(ns, sa, workload, services); err != nil {
		return "", TokenInfo{}, err
	}
	if err := CheckTokenTTL(ttl); err != nil {
		return "", TokenInfo{}, err
	}
	id, secret, token, err := jointoken.New()
	if err != nil {
		return "", TokenInfo{}, err
	}
	now := t.now().UTC()
	info := TokenInfo{ID: id, Namespace: ns, ServiceAccount: sa, Workload: workload, Services: slices.Clone(services), CreatedAt: now, SingleUse: singleUse}
	if ttl > 0 {
		exp := now.Add(ttl)
		info.ExpiresAt = &exp
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	err = t.updateLocked(func(tokens map[string]*storedToken) error {
		if _, dup := tokens[id]; dup {
			return fmt.Errorf("token ID collision: try again")
		}
		tokens[id] = &storedToken{TokenInfo: info.clone(), Hash: hashSecret(secret)}
		return nil
	})
	if err != nil {
		return "", TokenInfo{}, err
	}
	return token, info.clone(), nil
}

// Redeem checks a join token and counts a use. It returns the token's
// identity; the caller then signs for that identity only.
func (t *Tokens) Redeem(secret string) (TokenInfo, error) {
	return t.RedeemIf(secret, nil)
}

// RedeemIf is Redeem with a last check: accept sees the valid token and
// may refuse it, and a refused token is not used up.
func (t *Tokens) RedeemIf(secret string, accept func(TokenInfo) error) (TokenInfo, error) {
	id, sec, err := jointoken.Parse(secret)
	if err != nil {
		return TokenInfo{}, err
	}
	hash := hashSecret(sec)
	t.mu.Lock()
	defer t.mu.Unlock()
	var used TokenInfo
	now := t.now().UTC()
	err = t.updateLocked(func(tokens map[string]*storedToken) error {
		st, err := checkRedeem(tokens, id, hash, now)
		if err != nil {
			return err
		}
		if accept != nil {
			if err := accept(st.TokenInfo.clone()); err != nil {
				return err
			}
		}
		st.Uses++
		st.UsedAt = &now
		used = st.TokenInfo.clone()
		return nil
	})
	if err != nil {
		return TokenInfo{}, err
	}
	return used, nil
}

// checkRedeem returns the token id whose secret hashes to hash, if it
// may be redeemed at now.
func checkRedeem(tokens map[string]*storedToken, id, hash string, now time.Time) (*storedToken, error) {
	st, ok := tokens[id]
	// Compare even for an unknown ID, so timing does not tell them apart.
	want := hashSecret("")
	if ok {
		want = st.Hash
	}
	if subtle.ConstantTimeCompare([]byte(hash), []byte(want)) != 1 || !ok {
		return nil, ErrTokenInvalid
	}
	switch {
	case st.Revoked:
		return nil, ErrTokenRevoked
	case st.SingleUse && st.Uses > 0:
		return nil, ErrTokenUsed
	case st.ExpiresAt != nil && !now.Before(*st.ExpiresAt):
		return nil, ErrTokenExpired
	}
	return st, nil
}

// List returns every token, oldest first, as the store holds them now
// (as last read when the store cannot be read: it is then unavailable,
// and no token can be made or redeemed until it is back).
func (t *Tokens) List() []TokenInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	_ = t.loadLocked()
	out := make([]TokenInfo, 0, len(t.tokens))
	for _, st := range t.tokens {
		out = append(out, st.TokenInfo.clone())
	}
	slices.SortFunc(out, func(a, b TokenInfo) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Revoke marks a token revoked; it can no longer be redeemed. The record
// stays for the audit.
func (t *Tokens) Revoke(id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.updateLocked(func(tokens map[string]*storedToken) error {
		st, ok := tokens[id]
		if !ok {
			return fmt.Errorf("revoke token %q: %w (list them with `embassyctl token list`)", id, ErrTokenUnknown)
		}
		st.Revoked = true
		return nil
	})
}

// hashSecret returns the hex SHA-256 of a token's secret part.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// clone copies the info so callers cannot change the stored pointers.
func (i TokenInfo) clone() TokenInfo {
	if i.ExpiresAt != nil {
		e := *i.ExpiresAt
		i.ExpiresAt = &e
	}
	if i.UsedAt != nil {
		u := *i.UsedAt
		i.UsedAt = &u
	}
	i.Services = slices.Clone(i.Services)
	return i
}
