package proxy

import (
	"os"
	"slices"
	"strings"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/proctree"
)

// upstreamEnv is the whole environment of a stdio upstream: the base keys
// (or everything, when inheriting) from environ, with the config's env on
// top.
func upstreamEnv(environ []string, inherit bool, configured map[string]string) map[string]string {
	env := make(map[string]string, len(baseEnvKeys)+len(configured))
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if inherit || isBaseKey(k) {
			env[k] = v
		}
	}
	for k, v := range configured {
		// On Windows "Path" from the environment and "PATH" from the
		// config are one variable: the config's wins, once.
		for have := range env {
			if have != k && sameEnvKey(have, k) {
				delete(env, have)
			}
		}
		env[k] = v
	}
	return env
}

// isBaseKey says whether k is one of the system's baseEnvKeys (env_*.go),
// compared as the system compares names.
func isBaseKey(k string) bool {
	if strings.HasPrefix(k, "LC_") {
		return true
	}
	for _, b := range baseEnvKeys {
		if sameEnvKey(k, b) {
			return true
		}
	}
	return false
}

// networkEnvKeys are what remote transports need to reach servers the way
// every other program on the machine does: the proxy settings and the
// trusted certificate authorities.
var networkEnvKeys = []string{
	"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
}

// PluginEnv is the environment plugins run with: the base keys and the
// network settings only, so a plugin never sees the secrets in the proxy's
// environment.
func PluginEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		// proctree.EnvParentWatch: how the stdio plugin guards its
		// upstreams against its own death (the tests' switch).
		if isBaseKey(k) || k == proctree.EnvParentWatch || slices.ContainsFunc(networkEnvKeys, func(n string) bool { return sameEnvKey(k, n) }) {
			out = append(out, kv)
		}
	}
	return out
}
