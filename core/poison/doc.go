// Package poison checks the tools, prompts and resources an upstream MCP
// server lists for "tool poisoning" before the proxy passes them to the
// model's client.
//
// A model reads every name, description and schema string a server sends;
// the person who approved the server usually sees only a name. Poisoning
// hides instructions in that gap. The package does two things:
//
//   - It removes characters a person cannot see but a model reads: Unicode
//     tag characters and supplementary variation selectors (ASCII and emoji
//     smuggling; the hidden bytes are decoded into the finding), bidi
//     controls, zero-width and other format characters, stray control
//     characters and terminal escape sequences.
//   - It flags, without rewriting, phrases known from published attacks:
//     overriding earlier instructions, jumping the line ahead of the user,
//     keeping things from the user, <IMPORTANT>/<SYSTEM>/[INST]-style
//     markup, reading sensitive files (~/.ssh, ~/.aws, ~/.cursor/mcp.json,
//     .env …), smuggling data out through a parameter, an address or a URL,
//     and naming or steering another server's tools (shadowing).
//   - It reports, without rewriting, private-use characters (icon fonts use
//     them; eight or more in one string are severe, since that is how they
//     carry a message), and base64 (either alphabet) or hex runs whose
//     decoded text, when it is mostly printable UTF-8, matches the phrase
//     patterns or reads as a shell command (curl … | sh, reverse shells,
//     rm -rf, chmod +x). Decoding is bounded: 8 KB per run, 8 text runs per
//     string, 32 per item, one level of nesting; past a run limit a severe
//     finding says what went unread.
//
// CheckItem applies both to one item; CleanText and ScanText are the parts.
// The proxy forwards the whole item, so CheckItem checks every string value
// and every object key in it, at any depth up to MaxDepth, whatever the
// member is called: top-level "_meta", "annotations", "icons" and "x-…"
// members, "$comment", "pattern", "examples" and every other schema
// keyword, every array element. String values are cleaned; the values a
// call depends on (enum, const, default, examples, required, pattern and
// $ref-style references in a schema, a prompt argument's name, a
// resource's uri) and all keys are scanned and reported but left in place,
// since rewriting them would break calls. Checks for other servers' tool
// names apply to prose only: descriptions, titles and values holding
// whitespace. The one part not scanned for phrases is the base64 payload of
// a data URI (an icon's src), which holds nothing readable; its invisible
// characters are still removed.
//
// Severe tells findings that should stop an item from those (zero-width
// characters alone) that only record a harmless cleanup.
//
// The patterns aim at a low false-positive rate: the tests keep a corpus of
// real descriptions (the reference servers, Playwright MCP, every tool of
// the GitHub MCP server) that must produce no findings. The price is that a
// paraphrased attack can pass; this is a tripwire, not a proof of safety.
// A description that quotes an instruction-override or concealment phrase
// as an example ('detects phrases such as "ignore previous instructions"':
// the phrase inside quotes, a cue such as "such as", "e.g.", "phrase" or
// "detect" earlier in the sentence) gets a quoted_phrase finding, which is
// not severe; every other framing (labels such as "Expected output:",
// relative clauses such as "prompts that ignore …") is flagged like the
// attack itself, and quoting never discounts files, exfiltration, markup
// or tool names.
//
// # Compared with mcpproxy-go
//
// mcpproxy-go (smart-mcp-proxy/mcpproxy-go, internal/security/detect, read
// at commit 20a3e50) scores tools for quarantine review: it flags zero-width,
// bidi, tag and private-use characters and decodes tag messages; matches
// instruction-override, guardrail-override, secret- and system-prompt
// exfiltration phrases, <important>-style tags, secrecy imperatives and
// "before using this tool" preambles; flags distinctive cross-server tool
// references and description clones; and decodes base64/hex payloads, with
// a position heuristic that discounts quoted phrases. It reports but does not
// rewrite. Beyond it, this package removes the invisible characters
// byte-precisely from the JSON the client receives; decodes variation-selector
// smuggling; strips ANSI escape sequences (Trail of Bits' terminal
// concealment) and U+2061–U+2064, U+034F and U+FFF9–U+FFFB; scans every
// string value and key of the item, not only descriptions, with a field
// path per finding (CyberArk's full-schema poisoning); catches
// client-prefixed tool references such as "mcp_tool_send_email" and
// "(mcp_whatsapp) send_message", hidden recipients (BCC, "change the
// recipient to +…", "copy … to https://…"), conversation-history
// exfiltration and chat-template tokens (<|im_start|>, [INST]); and marks
// schemas nested deeper than MaxDepth instead of skipping them. Its payload
// decoding also takes the URL-safe alphabet, hex with "0x", runs glued to a
// URL path and base64 inside base64, and runs the phrase patterns on the
// decoded text, not only shell patterns; it also decodes printable data:
// URI payloads. Its quoting discount is narrower than mcpproxy-go's: only
// quotes with a cue, not labels or descriptive clauses. On mcpproxy-go's
// labelled set (specs/065-evaluation-foundation/datasets/
// detect_corpus_v1.json, with other servers' tool names as others; severe
// counts as caught) it catches 26 of 31 malicious items and is severe on 7
// of 26 benign ones (before these additions: 20 of 31, 9 of 26). It misses
// description clones of another server's tool (CheckItem is given names,
// not descriptions), a lone private-use character (below the threshold,
// reported but not severe), a lone zero-width joiner and "POSTs the result
// to an external analytics endpoint"; the benign items it still flags
// state an attack phrase unquoted after a label or in a descriptive
// clause, or name ~/.aws/credentials. It does not detect embedded secrets
// (API keys in descriptions).
package poison
