// Package mirror decides which upstream tools the proxy exposes, and under
// which names: <server><sep><tool>, restricted to [A-Za-z0-9_.-], at most 64
// characters, collisions resolved deterministically, within the guardrails
// (servers, tools per server, total tools, schema size). Each exposed tool
// keeps the upstream's definition as raw JSON with only its name replaced.
package mirror
