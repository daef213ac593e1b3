package tokenstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/atomicfile"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/filelock"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/safefile"
)

// FileName is the token file's name in $ICA_HOME, as the original tool
// named it.
const FileName = "mcp-tokens.json"

// fileVersion is the format written; files with a higher one are refused
// rather than overwritten.
const fileVersion = 1

// Token is what a login left for one server.
type Token struct {
	// Issuer and Resource say what the token was minted for: it is only
	// ever sent to that resource.
	Issuer   string `json:"issuer"`
	Resource string `json:"resource"`
	// ClientID is the client the token was issued to; Flow the login flow.
	ClientID string `json:"client_id,omitempty"`
	Flow     string `json:"flow,omitempty"`
	// Remint says the flow obtains a new token without the user (client
	// credentials, a command that prints one): with no refresh token, a
	// refresh runs the flow again.
	Remint bool `json:"remint,omitempty"`
	// TokenURL and RevocationURL are the endpoints to refresh and revoke
	// it at, so neither needs discovery again.
	TokenURL      string `json:"token_url,omitempty"`
	RevocationURL string `json:"revocation_url,omitempty"`

	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Scopes       []string  `json:"scopes,omitempty"`
	// DPoPKey, for a sender-constrained token (RFC 9449), is the private
	// key (PEM) it is bound to: every request that presents it, and every
	// refresh, carries a proof signed with it.
	DPoPKey string `json:"dpop_key,omitempty"`
	// KindReason says why the login asked for the kind of token it did
	// (Bearer or DPoP-bound), for auth_status.
	KindReason string `json:"kind_reason,omitempty"`
	// Refused, when set, says the server refused this token for its kind
	// and no renewal without the user could get the other kind: a new
	// login is wanted.
	Refused string `json:"refused,omitempty"`
	// Taken says the server opened a session with a token of this login
	// (refreshes keep the kind): a later refusal is of an expired or
	// revoked token, not of its kind.
	Taken bool `json:"taken,omitempty"`
	// Requested are the scopes the login asked for (Scopes are those the
	// server said it granted, when it said): a step-up asks for these and
	// the new ones together.
	Requested []string  `json:"requested_scopes,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	// StepUp, when set, says the server refused a request for want of
	// scope (403 insufficient_scope) and what the next login asks for.
	StepUp *StepUp `json:"step_up,omitempty"`
}

// StepUp is a server's demand for more scope than its token has.
type StepUp struct {
	// Scopes are what the next login asks for: those asked for before
	// and those the server named.
	Scopes []string `json:"scopes"`
	// Reason says in words what the server refused, for auth_status.
	Reason string `json:"reason"`
	// Logins counts the logins started for this demand, bounded so that
	// a server that refuses whatever is granted is not asked forever.
	Logins int `json:"logins"`
	// Done says the last of those logins finished: the token asked for
	// Scopes.
	Done bool `json:"done,omitempty"`
	// Refused, when set, says why no further login was started.
	Refused string    `json:"refused,omitempty"`
	At      time.Time `json:"at"`
}

// String describes the token without its secrets, so that a token printed
// by mistake leaks nothing.
func (t Token) String() string {
	exp := "no expiry"
	if !t.Expiry.IsZero() {
		exp = "expires " + t.Expiry.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("token for %s from %s (%s, refresh token: %t)", t.Resource, t.Issuer, exp, t.RefreshToken != "")
}

// GoString is String, for %#v.
func (t Token) GoString() string { return t.String() }

// Registration is a client registered with an authorization server
// (RFC 7591), kept per issuer so every server it protects can reuse it.
type Registration struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret,omitempty"`
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// AuthMethod is the token_endpoint_auth_method the server granted.
	AuthMethod   string    `json:"token_endpoint_auth_method,omitempty"`
	RegisteredAt time.Time `json:"registered_at"`
}

// String describes the registration without its secret.
func (r Registration) String() string {
	return fmt.Sprintf("client %s (secret: %t)", r.ClientID, r.ClientSecret != "")
}

// GoString is String, for %#v.
func (r Registration) GoString() string { return r.String() }

// file is the token file's content.
type file struct {
	Version       int                     `json:"version"`
	Servers       map[string]Token        `json:"servers"`
	Registrations map[string]Registration `json:"registrations"`
}

// Store is the token file of one $ICA_HOME. Its methods may be called from
// several goroutines and several processes at once.
type Store struct {
	path string
	lock string
	// lockPoll is how often a busy lock is tried again.
	lockPoll time.Duration
}

// ErrInsecure is returned when the token file or its folder is open to
// other users.
var ErrInsecure = safefile.ErrInsecure

// New returns the store kept in dir ($ICA_HOME). Nothing is read or
// created until it is used.
func New(dir string) *Store {
	return &Store{
		path:     filepath.Join(dir, FileName),
		lock:     filepath.Join(dir, FileName+".lock"),
		lockPoll: 10 * time.Millisecond,
	}
}

// Path is the token file.
func (s *Store) Path() string { return s.path }

// Get returns the token of server, if there is one.
func (s *Store) Get(ctx context.Context, server string) (Token, bool, error) {
	var t Token
	var ok bool
	err := s.view(ctx, func(f *file) {
		t, ok = f.Servers[server]
	})
	return t, ok, err
}

// Servers lists the servers that have a token, sorted.
func (s *Store) Servers(ctx context.Context) ([]string, error) {
	var names []string
	err := s.view(ctx, func(f *file) {
		for n := range f.Servers {
			names = append(names, n)
		}
	})
	sort.Strings(names)
	return names, err
}

// Put stores the token of server.
func (s *Store) Put(ctx context.Context, server string, t Token) error {
	return s.Update(ctx, server, func(Token, bool) (Token, bool, error) { return t, true, nil })
}

// Delete removes the token of server; it reports whether there was one.
func (s *Store) Delete(ctx context.Context, server string) (bool, error) {
	var had bool
	err := s.change(ctx, func(f *file) (bool, error) {
		_, had = f.Servers[server]
		delete(f.Servers, server)
		return had, nil
	})
	return had, err
}

// Update changes the token of server with fn, which gets the current
// token, read under the lock, and returns the new one and whether to store
// it. The lock is held while fn runs, so fn may spend a refresh token: no
// other process can read the old one meanwhile. fn should be bounded by
// ctx; an error from it changes nothing.
func (s *Store) Update(ctx context.Context, server string, fn func(cur Token, ok bool) (Token, bool, error)) error {
	return s.change(ctx, func(f *file) (bool, error) {
		cur, ok := f.Servers[server]
		next, store, err := fn(cur, ok)
		if err != nil || !store {
			return false, err
		}
		next.UpdatedAt = time.Now().UTC().Truncate(time.Second)
		f.Servers[server] = next
		return true, nil
	})
}

// Registration returns the client registered with issuer, if any.
func (s *Store) Registration(ctx context.Context, issuer string) (Registration, bool, error) {
	var r Registration
	var ok bool
	err := s.view(ctx, func(f *file) {
		r, ok = f.Registrations[issuer]
	})
	return r, ok, err
}

// PutRegistration stores the client registered with issuer.
func (s *Store) PutRegistration(ctx context.Context, issuer string, r Registration) error {
	return s.change(ctx, func(f *file) (bool, error) {
		f.Registrations[issuer] = r
		return true, nil
	})
}

// view reads the file under the lock.
func (s *Store) view(ctx context.Context, fn func(*file)) error {
	return s.change(ctx, func(f *file) (bool, error) {
		fn(f)
		return false, nil
	})
}

// change runs fn on the file's content under the lock and writes the
// result back if fn says it changed.
func (s *Store) change(ctx context.Context, fn func(*file) (bool, error)) error {
	unlock, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	f, err := s.read()
	if err != nil {
		return err
	}
	changed, err := fn(f)
	if err != nil || !changed {
		return err
	}
	return s.write(f)
}

// ensureDir creates $ICA_HOME 0700 if needed and refuses one other users
// can write to.
func (s *Store) ensureDir() error {
	dir := filepath.Dir(s.path)
	if err := safefile.MkdirPrivate(dir); err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	if err := safefile.Check(dir, fi, false); err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	return nil
}

// acquire takes the exclusive lock shared by every process using this
// store, waiting until ctx ends.
func (s *Store) acquire(ctx context.Context) (func(), error) {
	if err := s.ensureDir(); err != nil {
		return nil, err
	}
	release, err := filelock.Acquire(ctx, s.lock, s.lockPoll)
	if err != nil {
		return nil, fmt.Errorf("token store: %w", err)
	}
	return release, nil
}

// read loads the file; a missing file is an empty store.
func (s *Store) read() (*file, error) {
	f := &file{Version: fileVersion, Servers: map[string]Token{}, Registrations: map[string]Registration{}}
	fh, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("token store: %w", err)
	}
	defer func() { _ = fh.Close() }()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("token store: %w", err)
	}
	if err := safefile.Check(s.path, fi, true); err != nil {
		return nil, fmt.Errorf("token store: %w", err)
	}
	if err := json.NewDecoder(fh).Decode(f); err != nil {
		// Never overwrite a file that cannot be read: it may hold tokens.
		return nil, fmt.Errorf("token store %s is not valid JSON (%v); fix or move it away, then log in again", s.path, err)
	}
	if f.Version > fileVersion {
		return nil, fmt.Errorf("token store %s has format version %d; this ica-mcp-proxy writes version %d: upgrade it", s.path, f.Version, fileVersion)
	}
	f.Version = fileVersion
	if f.Servers == nil {
		f.Servers = map[string]Token{}
	}
	if f.Registrations == nil {
		f.Registrations = map[string]Registration{}
	}
	return f, nil
}

// write replaces the file atomically: a reader sees the old content or the
// new, never a mix, even if the process dies midway. A process killed
// midway leaves its temporary file behind; as every write happens under
// the lock, none is being written now, and they go.
func (s *Store) write(f *file) error {
	if stale, _ := filepath.Glob(s.path + ".*.tmp"); len(stale) > 0 {
		for _, tmp := range stale {
			_ = os.Remove(tmp)
		}
	}
	if err := atomicfile.WriteJSON(s.path, f); err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	return nil
}
