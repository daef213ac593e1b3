package auth

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/oauthmeta"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/dpop"
)

// The kinds of access token a login asks for: one any holder may present
// (RFC 6750), or one bound to a key of the proxy's (DPoP, RFC 9449).
const (
	KindBearer = "Bearer"
	KindDPoP   = "DPoP"
)

// Kinds remembers, per server entry (Server.Key), the kind of token a
// server turned out to take when it refused the other kind, and why;
// upstreamfacts.Memo keeps it in mcp-upstreams.json. Without it, each start learns
// it again from one refusal.
type Kinds interface {
	TokenKind(key string) (kind, reason string)
	SetTokenKind(key, kind, reason string) error
}

// kindInputs are what decide the kind of token a login asks for.
type kindInputs struct {
	// setting is the entry's "dpop" (nil: unset).
	setting *bool
	// remembered is the kind learned from a refusal (Kinds), and why.
	remembered, rememberedWhy string
	// resource is the server's protected resource metadata (nil: none
	// published, or not read because the endpoints are set by hand).
	resource *oauthmeta.ProtectedResource
	// challenge is the server's last 401.
	challenge oauthmeta.Challenge
	// asAlgs are the proof algorithms the authorization server's metadata
	// lists; asKnown says its metadata was read.
	asAlgs  []string
	asKnown bool
}

// decideKind picks the kind of token a login asks for, and says why. The
// resource decides, not the authorization server: most MCP servers behind
// an authorization server that offers DPoP take only Bearer tokens, and a
// DPoP-bound token is refused there. In order:
//
//   - the entry's "dpop" setting;
//   - the kind remembered from the server refusing the other kind;
//   - the server's protected resource metadata (RFC 9728 §2):
//     dpop_bound_access_tokens_required, or ES256 among
//     dpop_signing_alg_values_supported;
//   - its challenge offering the DPoP scheme (RFC 9449 §7.1), with ES256
//     among its algs when it names any;
//   - else Bearer.
//
// DPoP also needs an authorization server that takes ES256 proofs where
// its metadata lists proof algorithms; one that lists none is asked
// anyway, and a Bearer token it issues is kept as one (save). An error
// says DPoP is required but cannot be had; required says the server (or
// the entry) takes nothing else, so a Bearer token is of no use.
func decideKind(in kindInputs) (kind, reason string, required bool, err error) {
	switch prm, ch := in.resource, in.challenge; {
	case in.setting != nil && !*in.setting:
		return KindBearer, `the entry sets "dpop": false`, false, nil
	case in.setting != nil:
		kind, reason, required = KindDPoP, `the entry sets "dpop": true`, true
	case in.remembered == KindBearer || in.remembered == KindDPoP:
		kind, reason, required = in.remembered, in.rememberedWhy, in.remembered == KindDPoP
	case prm != nil && prm.DPoPBoundAccessTokensRequired:
		if len(prm.DPoPSigningAlgValuesSupported) > 0 && !slices.Contains(prm.DPoPSigningAlgValuesSupported, dpop.Alg) {
			return "", "", true, fmt.Errorf("the server requires DPoP-bound tokens with proofs signed with %s (its resource metadata), and the proxy signs with %s only", algList(prm.DPoPSigningAlgValuesSupported), dpop.Alg)
		}
		kind, reason, required = KindDPoP, "the server's resource metadata requires DPoP-bound tokens (dpop_bound_access_tokens_required)", true
	case prm != nil && slices.Contains(prm.DPoPSigningAlgValuesSupported, dpop.Alg):
		kind, reason = KindDPoP, "the server's resource metadata lists DPoP proof algorithms (dpop_signing_alg_values_supported)"
	case prm != nil && len(prm.DPoPSigningAlgValuesSupported) > 0:
		return KindBearer, fmt.Sprintf("the server's resource metadata lists DPoP proofs signed with %s only, and the proxy signs with %s", algList(prm.DPoPSigningAlgValuesSupported), dpop.Alg), false, nil
	case ch.DPoP && ch.DPoPAlgs != "" && !slices.Contains(strings.Fields(ch.DPoPAlgs), dpop.Alg):
		if !ch.Bearer {
			return "", "", true, fmt.Errorf("the server takes only DPoP-bound tokens with proofs signed with %s (its challenge), and the proxy signs with %s only", algList(strings.Fields(ch.DPoPAlgs)), dpop.Alg)
		}
		return KindBearer, fmt.Sprintf("the server's challenge offers DPoP proofs signed with %s only, and the proxy signs with %s", algList(strings.Fields(ch.DPoPAlgs)), dpop.Alg), false, nil
	case ch.DPoP:
		kind, reason, required = KindDPoP, "the server's WWW-Authenticate challenge offers the DPoP scheme", !ch.Bearer
	default:
		return KindBearer, "the server does not ask for DPoP: neither its resource metadata nor its challenge mentions it", false, nil
	}
	if in.asKnown && len(in.asAlgs) > 0 && !slices.Contains(in.asAlgs, dpop.Alg) {
		why := fmt.Sprintf("the authorization server takes DPoP proofs signed with %s, and the proxy signs with %s only", algList(in.asAlgs), dpop.Alg)
		if required {
			return "", "", true, fmt.Errorf("a DPoP-bound token is needed (%s), but %s", reason, why)
		}
		return KindBearer, reason + ", but " + why, false, nil
	}
	return kind, reason, required, nil
}

// algList names the algorithms a server listed, for a message: each
// quoted (they are the server's text), at most a few.
func algList(algs []string) string {
	const most = 4
	var b strings.Builder
	for i, a := range algs {
		if i == most {
			fmt.Fprintf(&b, " and %d more", len(algs)-most)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if len(a) > 32 {
			a = a[:32] + "…"
		}
		fmt.Fprintf(&b, "%q", a)
	}
	return b.String()
}

// heldKind is the kind of a stored token: DPoP when it is bound to a key,
// unless the authorization server said it issued a Bearer token.
func heldKind(dpopKey, tokenType string) string {
	if dpopKey == "" || strings.EqualFold(tokenType, KindBearer) {
		return KindBearer
	}
	return KindDPoP
}
