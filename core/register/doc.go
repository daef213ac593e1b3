// Package register puts the proxy's entry into an agent runtime's MCP
// config: Claude Code, Claude Desktop, Codex, Cursor, Gemini CLI, OpenCode
// and Antigravity. Each Client knows its config file, its format (JSON, or
// TOML for Codex), the shape of a server entry there, and the tool-name
// separator its model API accepts.
//
// Merging edits the file's text, not a re-encoding of it: every byte
// outside the proxy's own entry stays as it was (other servers, key order,
// indentation). Inside the entry, keys the proxy does not manage and env
// variables the user added (ICA_MCP_STRICT_TRUST=1, say) are kept. Every
// edit is checked by parsing the file before and after: apart from the
// entry, both must hold the same values, or nothing is written. Start at
// Plan.
package register
