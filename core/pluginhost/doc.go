// Package pluginhost finds, starts and talks to plugins: executables named
// ica-plugin-<kind>-<name> in $ICA_HOME/plugins.
//
// A plugin is started lazily, the first time one of its names is needed,
// asked for its Info before anything else, and started again on next use
// if it crashed. Every plugin gets a pipe on fd 3 whose other end only this
// process holds: when the proxy dies, however it dies, the plugin reads end
// of file and shuts its upstreams down.
//
// Integrity checks (ownership, permissions, recorded checksums) plug in
// through the Verifier interface.
package pluginhost
