// Command ica-conformance-client is the small client entry point the MCP
// conformance suite (@modelcontextprotocol/conformance, `client --suite
// auth`) runs: given the URL of the suite's mock MCP server, it has the
// real proxy binary (from -bin, or beside this program) log in and list
// the server's tools, playing the user's browser by following the
// authorization URL's redirects, as the suite's own reference clients do.
//
//	ica-conformance-client [-bin DIR] URL
//
// The scenario's context (MCP_CONFORMANCE_CONTEXT, JSON) may carry a
// client_id and client_secret, which become the server's oauth settings.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

func main() {
	exe, _ := os.Executable()
	bin := flag.String("bin", filepath.Dir(exe), "folder with ica-mcp-proxy and the plugins")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: ica-conformance-client [-bin DIR] URL")
		os.Exit(2)
	}
	if err := run(*bin, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "ica-conformance-client:", err)
		os.Exit(1)
	}
}

func run(bin, serverURL string) error {
	home, err := os.MkdirTemp("", "ica-conformance-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(home) }()
	project := filepath.Join(home, "project")
	if err := os.MkdirAll(project, 0o700); err != nil {
		return err
	}
	env := append(os.Environ(), "ICA_HOME="+filepath.Join(home, "ica"), "ICA_LOG_LEVEL=warn")
	// This program drives the proxy as a 2025-11-25 client, and the
	// proxy asks each upstream in its client's revision first; the
	// scenarios of a later revision test the proxy's upstream side in
	// that revision, so it is asked in that one first.
	if v := os.Getenv("MCP_CONFORMANCE_PROTOCOL_VERSION"); v >= "2026-07-28" {
		env = append(env, "ICA_MCP_PROXY_UPSTREAM_REVISION=stateless")
	}
	proxy := filepath.Join(bin, "ica-mcp-proxy")
	command := func(args ...string) *exec.Cmd {
		cmd := exec.Command(proxy, args...)
		cmd.Dir, cmd.Env = project, env
		return cmd
	}
	if out, err := command("plugins", "install").CombinedOutput(); err != nil {
		return fmt.Errorf("plugins install: %v: %s", err, out)
	}

	scenario := os.Getenv("MCP_CONFORMANCE_SCENARIO")
	if !strings.HasPrefix(scenario, "auth/") {
		// No login: the proxy's client (this program, as an agent runtime
		// would) lists the scenario server's tools and calls each one.
		cfg, _ := json.Marshal(map[string]any{"mcpServers": map[string]any{"conf": map[string]any{"type": "http", "url": serverURL}}})
		if err := os.WriteFile(filepath.Join(project, ".mcp.json"), cfg, 0o600); err != nil {
			return err
		}
		return session(command("serve"), nil)
	}

	oauth := map[string]any{
		"options": map[string]any{"open_browser": false},
		// The suite's authorization servers that accept client ID metadata
		// documents take this one as it is, without fetching it (the
		// suite's reference clients use it too); elsewhere it is unused.
		"client_metadata_url": "https://conformance-test.local/client-metadata.json",
	}
	flow := "pkce"
	var ctx struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		Name         string `json:"name"`
		// private_key_jwt (client-credentials-jwt)
		PrivateKeyPEM    string `json:"private_key_pem"`
		SigningAlgorithm string `json:"signing_algorithm"`
		// the identity assertion grant (enterprise-managed-authorization)
		IdPClientID      string `json:"idp_client_id"`
		IdPIDToken       string `json:"idp_id_token"`
		IdPTokenEndpoint string `json:"idp_token_endpoint"`
		// workload identity federation (wif-jwt-bearer)
		ValidJWT string `json:"valid_jwt"`
	}
	if c := os.Getenv("MCP_CONFORMANCE_CONTEXT"); c != "" {
		_ = json.Unmarshal([]byte(c), &ctx)
	}
	if ctx.ClientID != "" {
		oauth["client_id"], oauth["client_secret"] = ctx.ClientID, ctx.ClientSecret
	}
	if ctx.PrivateKeyPEM != "" {
		oauth["private_key"], oauth["signing_alg"] = ctx.PrivateKeyPEM, ctx.SigningAlgorithm
	}
	if strings.Contains(os.Getenv("MCP_CONFORMANCE_SCENARIO"), "client-credentials") {
		flow = "client_credentials"
	}
	if ctx.ValidJWT != "" {
		// The workload's JWT, as its platform would hand it over.
		flow = "workload_identity"
		oauth["options"] = map[string]any{"assertion": ctx.ValidJWT}
	}
	if ctx.IdPIDToken != "" {
		// The user's ID token from the company's identity provider, as
		// an SSO tool would hand it over.
		flow = "identity_assertion"
		oauth["options"] = map[string]any{"idp_token_url": ctx.IdPTokenEndpoint, "idp_client_id": ctx.IdPClientID, "id_token": ctx.IdPIDToken}
	}
	cfg, _ := json.Marshal(map[string]any{"mcpServers": map[string]any{"conf": map[string]any{
		"type": "http", "url": serverURL, "oauth": oauth,
	}}})
	if err := os.WriteFile(filepath.Join(project, ".mcp.json"), cfg, 0o600); err != nil {
		return err
	}

	login := command("auth", "login", "conf", "--flow", flow)
	stderr, err := login.StderrPipe()
	if err != nil {
		return err
	}
	if err := login.Start(); err != nil {
		return err
	}
	urlRe := regexp.MustCompile(`https?://\S+`)
	lines := bufio.NewScanner(stderr)
	var transcript strings.Builder
	browsed := false
	for lines.Scan() {
		line := lines.Text()
		transcript.WriteString(line + "\n")
		if !browsed && strings.Contains(line, "open this URL") {
			if u := urlRe.FindString(line); u != "" {
				browsed = true
				go browse(u)
			}
		}
	}
	if err := login.Wait(); err != nil {
		return fmt.Errorf("auth login: %v\n%s", err, transcript.String())
	}
	// Then as an agent runtime would: list the tools and call them,
	// logging in again when the proxy asks for it.
	return session(command("serve"), &user{server: "conf"})
}

// browse follows the authorization URL and its redirects to the proxy's
// loopback callback, as a browser whose user approves at once would.
func browse(u string) {
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		fmt.Fprintln(os.Stderr, "browser:", err)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		fmt.Fprintln(os.Stderr, "browser:", errors.New(resp.Status))
	}
}
