// Package auth is the core's side of OAuth: for each server it finds how
// to log in (the server's "oauth" settings, else discovery), which client
// to log in as (configured, registered before, or registered now by RFC
// 7591), runs the flow in the auth plugin that provides it, and keeps the
// token in the token store. Logins return at once with what the user must
// do and finish in the background; their progress is in Status.
package auth
