// Package config loads the upstream servers a project and a user define:
// .mcp.json in the working directory and $ICA_HOME/mcp-servers.json (else
// $ICA_HOME/mcp.json). The project's entries win over the user's unless
// ICA_MCP_CONFIG_PREFER_HOME is set.
//
// Loading never fails as a whole: a file that does not parse is reported
// with its line and column and contributes no servers, and a bad server
// entry is kept with its error, so that every other server still works and
// mirror_status can say what is wrong.
package config
