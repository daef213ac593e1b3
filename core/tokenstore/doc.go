// Package tokenstore keeps the OAuth tokens of upstream servers, and the
// client registrations made with their authorization servers, in
// $ICA_HOME/mcp-tokens.json.
//
// Two agent runtimes often run the proxy at the same time, so the file is
// shared between processes: every change happens under an exclusive lock
// on a lock file beside it, starts by reading the file again, and ends with
// an atomic replacement (a temporary file, fsync, rename). A refresh runs
// inside Update, with the lock held, so of two processes refreshing at the
// same moment the second sees the first one's new token and does not spend
// the single-use refresh token again.
//
// The file is created 0600 in a 0700 folder, and refused if other users
// can read it. Token values never leave this package in a form meant for
// people: Token's String redacts them.
package tokenstore
