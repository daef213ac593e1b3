package auth

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Settings are a server's "oauth" keys, as the original tool named them.
// Endpoints given here skip discovery.
type Settings struct {
	// Flow is the login flow ("pkce", "device_code", "client_credentials",
	// or a third-party plugin's); "type" is accepted for it too.
	Flow                   string `json:"flow"`
	Type                   string `json:"type"`
	Issuer                 string `json:"issuer"`
	AuthorizationURL       string `json:"authorization_url"`
	TokenURL               string `json:"token_url"`
	DeviceAuthorizationURL string `json:"device_authorization_url"`
	RevocationURL          string `json:"revocation_url"`
	ClientID               string `json:"client_id"`
	ClientSecret           string `json:"client_secret"`
	// PrivateKey (PEM, or PrivateKeyFile naming a file holding it) makes
	// the configured client authenticate with a signed JWT instead of a
	// secret (private_key_jwt, RFC 7523), with SigningAlg (empty: the
	// key's usual algorithm).
	PrivateKey     string `json:"private_key"`
	PrivateKeyFile string `json:"private_key_file"`
	SigningAlg     string `json:"signing_alg"`
	// DPoP: false asks for Bearer tokens only; true always asks for
	// sender-constrained ones (RFC 9449). Unset: the server decides, by
	// its resource metadata or its challenge (decideKind).
	DPoP *bool `json:"dpop"`
	// ClientMetadataURL is the client ID metadata document to log in with
	// where the authorization server accepts one; "" for the project's
	// (DefaultClientMetadataURL), "none" to register dynamically instead.
	ClientMetadataURL string            `json:"client_metadata_url"`
	Scopes            scopes            `json:"scopes"`
	RedirectURI       string            `json:"redirect_uri"`
	ExtraAuthParams   map[string]string `json:"extra_auth_params"`
	ExtraTokenParams  map[string]string `json:"extra_token_params"`
	// Timeout bounds a whole login, TokenTimeout one token request; in
	// seconds.
	Timeout      float64 `json:"timeout"`
	TokenTimeout float64 `json:"token_timeout"`
	// Options are passed to the flow's plugin as they are.
	Options json.RawMessage `json:"options"`
}

// scopes accepts a list or a space-separated string.
type scopes []string

func (s *scopes) UnmarshalJSON(b []byte) error {
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		*s = list
		return nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return fmt.Errorf("scopes must be a list or a space-separated string")
	}
	*s = strings.Fields(str)
	return nil
}

// ParseSettings reads a server's "oauth" value; nil or empty is no
// settings.
func ParseSettings(raw json.RawMessage) (Settings, error) {
	var s Settings
	if len(raw) == 0 || string(raw) == "null" {
		return s, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("oauth settings: %w", err)
	}
	if s.Flow == "" {
		s.Flow = s.Type
	}
	s.Flow = normalizeFlow(s.Flow)
	return s, nil
}

// normalizeFlow maps the names people write to the plugins' flow names.
func normalizeFlow(f string) string {
	switch strings.ToLower(strings.ReplaceAll(f, "-", "_")) {
	case "pkce", "authorization_code", "auth_code", "browser":
		return "pkce"
	case "device", "device_code", "device_authorization":
		return "device_code"
	case "client_credentials", "m2m", "machine":
		return "client_credentials"
	case "identity_assertion", "enterprise", "id_jag", "xaa":
		return "identity_assertion"
	case "workload_identity", "wif", "jwt_bearer":
		return "workload_identity"
	}
	return f
}

// explicit reports whether the settings give the endpoints themselves.
func (s Settings) explicit() bool {
	return s.TokenURL != ""
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// configuredClient is the client the settings give by hand (client_id,
// with a secret or a private key), for flow requests at the token
// endpoint.
func (s Settings) configuredClient() (sdk.Client, error) {
	c := sdk.Client{ClientID: s.ClientID, ClientSecret: s.ClientSecret, RedirectURI: s.RedirectURI, SigningAlg: s.SigningAlg}
	key := s.PrivateKey
	if s.PrivateKeyFile != "" {
		data, err := os.ReadFile(s.PrivateKeyFile)
		if err != nil {
			return sdk.Client{}, fmt.Errorf("private_key_file: %w", err)
		}
		key = string(data)
	}
	if key != "" {
		c.PrivateKey, c.AuthMethod = key, "private_key_jwt"
	}
	return c, nil
}
