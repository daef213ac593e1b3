package poison

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"
)

// pattern is one phrase family. label names it in a Finding's Detail.
type pattern struct {
	kind  string
	label string
	// any lists lower-case literals of which the text must hold at least
	// one before the expression is tried. Case-insensitive RE2 over long
	// text is slow; a substring test is not, and most text has none.
	any []string
	// re compiles the expression on first use: most are never needed in
	// a run (their literals never turn up), and compiling all of them
	// would cost every process of the multi-call binary some 14 ms.
	re func() *regexp.Regexp
}

// The phrase windows below ("[^.!?]{0,60}?") stop at sentence ends so that a
// verb in one sentence and a target in the next do not combine into a match;
// that keeps benign prose such as "Read the file. Returns .env-style output"
// quiet. Every expression is matched case-insensitively against text from
// normalize, so whitespace is single spaces and quotes are ASCII.
var patterns = []pattern{
	// Instruction overrides: the classic "ignore previous instructions" and
	// its relatives. A noun is required after the temporal word so that
	// sequential-thinking style prose ("revise previous thoughts", "ignore
	// information that is irrelevant") stays quiet.
	{KindInjection, "instruction override", []string{"ignore", "disregard", "forget", "override", "bypass"}, re(`\b(?:ignore|disregard|forget|override|bypass)\b(?: (?:all|any|every|the|your|my|these|those|of|everything|that|what|you were|you have been|you've been))* (?:previous|prior|earlier|above|preceding|foregoing|initial|original|former|existing|system|other|safety)(?: \w+){0,2}? (?:instructions?|directions?|directives?|prompts?|rules?|guidelines?|guidance|commands?|context|messages?|constraints?|polic(?:y|ies)|restrictions?|orders?|requests?|conversation|tasks?)\b`)},
	{KindInjection, "instruction override", []string{"ignore", "disregard", "forget"}, re(`\b(?:ignore|disregard|forget) (?:all |everything |the )*(?:previous|prior|above|preceding|earlier|before)\b ?(?:[,;:!]|$|and\b|then\b|instead\b|now\b)`)},
	{KindInjection, "instruction override", []string{"override", "supersede", "precedence"}, re(`\b(?:override|supersede|take precedence over|takes precedence over) (?:all |any )?(?:other |previous |prior |the )?(?:user'?s? |system |developer )?(?:instructions?|prompts?|guidelines|directives?)\b`)},
	{KindInjection, "role reassignment", []string{"you are now"}, re(`\byou are now (?:a|an|my|no longer|free|unrestricted|dan|jailbroken|in (?:developer|god|dan|jailbreak|admin|unrestricted) mode)\b`)},
	{KindInjection, "injected instruction header", []string{"instruction", "directive", "system prompt", "order"}, re(`\b(?:new|updated|real|actual|true|secret|hidden) (?:instructions?|directives?|system prompt|orders?)\s?:`)},
	// Line jumping: the description demands to run ahead of everything else.
	{KindInjection, "tool-priority coercion", []string{"before "}, re(`\bbefore (?:using|calling|invoking|running|executing) (?:any|every|all) (?:other )?tools?\b`)},
	{KindInjection, "tool-priority coercion", []string{"before "}, re(`\bbefore (?:asking|providing|answering|responding|replying)\b[^.!?]{0,40}?\b(?:any|every|all)\b`)},
	{KindInjection, "tool-priority coercion", []string{"this tool"}, re(`\b(?:always|must) (?:call|use|invoke|consult|run) this tool (?:immediately )?(?:as the (?:very )?first step|first,? before (?:anything|everything|any other))`)},
	{KindInjection, "tool-priority coercion", []string{"this tool"}, re(`\b(?:for|on) (?:any|every|each|all) (?:\w+ )?(?:requests?|questions?|prompts?|messages?|queries|tasks?|conversations?)\b[^.!?]{0,60}?\b(?:always|must|first) (?:\w+ )?(?:call|use|invoke|consult|run) this tool\b`)},

	// Concealment from the person in the loop.
	{KindHiddenFromUser, "concealment", []string{"tell", "inform", "mention", "notify", "alert", "reveal", "disclose"}, re(`\b(?:do not|don't|dont|never|must not|should not|shouldn't|no need to|not necessary to|without) (?:ever )?(?:tell|inform|mention|notify|alert|reveal|disclose)\b`)},
	{KindHiddenFromUser, "concealment", []string{"without"}, re(`\bwithout (?:the )?(?:user|users|human|operator)(?:'s)? (?:knowing|knowledge|noticing|awareness|consent|permission|approval|seeing)\b`)},
	{KindHiddenFromUser, "concealment", []string{"without"}, re(`\bwithout (?:telling|informing|notifying|alerting|letting) (?:the )?(?:user|users|human|operator|them)\b`)},
	{KindHiddenFromUser, "concealment", []string{" not "}, re(`\b(?:user|users|human|operator) (?:must|should|need|needs to) not (?:know|see|notice|find out|be (?:told|informed|aware|notified))\b`)},
	{KindHiddenFromUser, "concealment", []string{"need to"}, re(`\b(?:user|they|he|she) (?:does not|doesn't|do not|don't|dont) need to (?:know|see|be (?:told|informed|bothered|annoyed))\b`)},
	{KindHiddenFromUser, "concealment", []string{"hide", "conceal"}, re(`\b(?:hide|conceal)\b[^.!?]{0,30}?\bfrom (?:the )?(?:user|users|human|operator)\b`)},
	{KindHiddenFromUser, "concealment", []string{"keep "}, re(`\bkeep (?:this|it|that|these|them) (?:\w+ )?(?:secret|hidden|confidential|between us)\b`)},
	{KindHiddenFromUser, "concealment", []string{"secretly", "covertly", "surreptitiously", "stealthily", "silently", "quietly"}, re(`\b(?:secretly|covertly|surreptitiously|stealthily)\b|\b(?:silently|quietly) (?:send|post|forward|copy|upload|include|add|append|read|cat|bcc|cc|exfiltrate|transmit)\b`)},

	// Pseudo-markup that imitates a system or chat-template boundary.
	{KindMarkup, "instruction markup", []string{"<"}, re(`<\s*/?\s*(?:important|system|system[_ -]?prompt|sys|instructions?|hidden|secret|critical|admin|developer|assistant|override|directive)(?:\s[^<>]{0,40})?\s*/?>`)},
	{KindMarkup, "chat-template token", []string{"<|", "[inst]", "[/inst]", "<<"}, re(`<\|\s*(?:im_start|im_end|im_sep|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id|begin_of_text)\s*\|>|\[/?INST\]|<<\s*/?SYS\s*>>`)},
	{KindMarkup, "instruction markup", []string{"["}, reCase(`\[(?:IMPORTANT|SYSTEM|INSTRUCTIONS?|ADMIN|OVERRIDE)\s*[:\]]`)},
	{KindMarkup, "hidden comment", []string{"<!--"}, re(`<!--`)},

	// Sensitive files. Strong paths count on their own; weak ones (a .env
	// or mcp.json may be a tool's legitimate subject) need a verb that asks
	// the model to read or hand over the file.
	{KindSensitiveFile, "sensitive file", []string{".ssh", "rsa", "dsa", "ed25519", ".aws", ".cursor", ".git-credentials", "/etc/", "claude_desktop_config", "application_default_credentials", "wallet.dat", ".password-store"}, re(`(?:^|[^\w./~-])((?:~|\$home|%userprofile%)?(?:[\w./-]*[/_.-])?(?:\.ssh\b|id[_ -]?(?:rsa|dsa|ecdsa|ed25519)\b|~/\.aws\b|\.aws/credentials\b|~/\.cursor\b|\.cursor/mcp\.json\b|\.git-credentials\b|/etc/shadow\b|/etc/secrets?/|claude_desktop_config\.json\b|application_default_credentials\.json\b|wallet\.dat\b|\.password-store\b)[\w./-]*)`)},
	{KindSensitiveFile, "sensitive file", []string{".env", "mcp.json", "credentials.json", "secret", "/etc/passwd", ".pem", "private", ".npmrc", ".pypirc", ".netrc", ".gnupg", ".kube/config", ".docker/config", "_history", ".aws"}, re(`\b(?:read|cat|open|load|fetch|retrieve|access|grab|collect|dump|steal|copy|include|attach|pass|send|upload|exfiltrate|extract|print|output|base64)\b[^.!?]{0,50}?(?:(?:^|[^a-z0-9])\.env\b|\bmcp\.json\b|\bcredentials\.json\b|\bsecrets?\.(?:json|ya?ml|toml|env)\b|/etc/passwd\b|\.pem\b|\bprivate[ _-]keys?\b|\.(?:npmrc|pypirc|netrc|gnupg)\b|\.kube/config\b|\.docker/config\.json\b|\.(?:bash|zsh)_history\b|~/\.aws\b)`)},

	// Exfiltration: how stolen data is to leave.
	{KindExfiltration, "exfiltration via parameter", []string{"note"}, re(`\b(?:pass|include|put|insert|embed|place|append|add|concatenate|attach|provide|send|forward|copy)\b[^.!?]{0,60}?\b(?:as|in|into|inside|within|to) (?:the |a )?['"` + "`" + `]?side[ _-]?notes?\b`)},
	{KindExfiltration, "exfiltration via parameter", []string{"pass", "send", "put", "insert", "include", "embed", "append", "concatenate", "attach"}, re(`\b(?:pass|send|put|insert|include|embed|append|concatenate|attach)\b (?:its|their|the (?:file|key|files)'?s?|them|it|this|that)(?: \w+){0,3}? (?:as|in|into|inside|within) (?:the |your |a |an )?(?:['"` + "`" + `][^'"` + "`" + `]{1,40}['"` + "`" + `]|(?:[\w-]+ ){0,3}?(?:parameters?|params?|arguments?|args|fields?))`)},
	{KindExfiltration, "exfiltration via parameter", []string{"content"}, re(`\b(?:include|put|insert|embed|place|append|add|pass)\b (?:the |all )?(?:file )?contents? (?:of [^.!?]{1,40}? )?(?:as|in|into) (?:the )?(?:['"` + "`" + `][^'"` + "`" + `]{1,40}['"` + "`" + `]|(?:first|second|next|last) (?:argument|parameter))`)},
	{KindExfiltration, "conversation exfiltration", []string{"conversation", "chat", "history", "transcript", "messages", "system prompt", "list of"}, re(`\b(?:include|pass|send|attach|append|add|provide|put|insert|forward|copy|dump|leak)\b[^.!?]{0,50}?\b(?:conversation (?:history|context|so far|transcript)|(?:full|entire|complete|whole) (?:conversation|chat|transcript)|chat history|message history|all (?:previous|prior|user) messages|(?:the |your )system prompt|(?:full )?list of (?:last|previous|recent|all) (?:messages|chats|contacts))`)},
	{KindExfiltration, "credential exfiltration", []string{"credential", "key", "token", "secret", "password", "cookie"}, re(`\b(?:send|post|upload|transmit|exfiltrate|leak|forward|steal|harvest|smuggle|email|share)(?:s|ed|ing)?\b (?:the |all |any )?(?:user'?s?|users'|your|their|stored|saved|local|all) (?:credentials|api keys?|access tokens?|tokens|secrets|passwords?|private keys?|ssh keys?|cookies|session tokens?)\b`)},
	{KindExfiltration, "system-prompt extraction", []string{"your "}, re(`\b(?:reveal|print|output|repeat|disclose|leak|dump|show|send|tell)\b[^.!?]{0,20}?\byour (?:system prompt|(?:hidden |initial |original |secret )?instructions)\b`)},
	{KindExfiltration, "hidden recipient", []string{"cc"}, re(`\b(?:bcc|cc)\b[^.!?]{0,30}?[\w.+-]+@[\w-]+\.[\w.-]+`)},
	{KindExfiltration, "hidden recipient", []string{" to "}, re(`\b(?:send|post|forward|upload|copy|mirror|redirect|route|transmit)\b[^!?]{0,40}?\b(?:all|every|each|a copy|an? (?:identical |exact )?copy|copies|duplicates?)\b[^!?]{0,60}?\bto (?:https?://[^\s'"` + "`" + `]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\+?\d[\d -]{6,}\d)`)},
	{KindExfiltration, "hidden recipient", []string{"recipient", "destination", "receiver", "to address", "target"}, re(`\b(?:change|set|replace|redirect|switch|override)\b (?:the )?(?:recipients?|destination|receiver|to address|target (?:address|number|email))\b[^.!?]{0,30}?\bto (?:\+?\d[\d -]{6,}\d|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|https?://[^\s'"` + "`" + `]+)`)},
	{KindExfiltration, "shell exfiltration", []string{"$("}, re(`\b(?:curl|wget|nc|ncat|netcat)\b[^\n]{0,120}?\$\(\s*(?:cat|base64|env|printenv|tar)\b`)},

	// Steering another server's tools without naming it exactly.
	{KindShadowing, "cross-tool instruction", []string{"also present", "previously declared", "previously defined", "other available"}, re(`\b(?:also present|previously declared|previously defined|other available) (?:[\w.-]+ ){0,2}?tools?\b`)},
	{KindShadowing, "cross-tool instruction", []string{"when "}, re(`\bwhen (?:the )?(?:\(\s*[\w.-]+\s*\) ?)?[a-z0-9]+(?:_[a-z0-9]+)+ (?:tool )?is (?:invoked|called|used)\b[^.!?]{0,80}?\b(?:change|replace|redirect|always|must|instead|also)\b`)},
}

// re is a case-insensitive expression compiled on first use.
func re(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)` + expr) })
}

// reCase is an expression that keeps case, compiled on first use.
func reCase(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// snippetRunes bounds the quoted text in a Detail so one finding stays one
// readable line.
const snippetRunes = 80

// quote renders s for a person: truncated, in double quotes, with control
// and invisible characters escaped so the Detail cannot itself smuggle text.
func quote(s string) string { return quoteShort(s, snippetRunes) }

// normalize prepares text for phrase matching: invisible characters are
// dropped (so "ig\u200bnore" still reads "ignore"), fullwidth ASCII and
// typographic quotes are folded, and whitespace collapses to single spaces
// so a phrase broken across docstring lines still matches.
func normalize(s string) string {
	if plain(s) {
		return s
	}
	s, _ = clean(s)
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			r -= 0xFEE0
		case r == '\u017F': // long s and the Kelvin sign are the only
			r = 's' // non-ASCII letters that case-fold to ASCII; folding
		case r == '\u212A': // them keeps the literal prefilter exact
			r = 'k'
		case r == '\u2018' || r == '\u2019' || r == '\u02BC' || r == '\u2032':
			r = '\''
		case r == '\u201C' || r == '\u201D':
			r = '"'
		case r == '\u2010' || r == '\u2011' || r == '\u2013' || r == '\u2014':
			r = '-'
		}
		if unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// plain reports whether normalize would return s unchanged: printable
// ASCII with no two spaces in a row. Most schema strings are.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == ' ' && i > 0 && s[i-1] == ' ' {
			return false
		}
	}
	return true
}

// splitWords turns an identifier into words ("content_from_readingSshKey"
// becomes "content from reading Ssh Key") so that phrase patterns apply to
// parameter and tool names, where CyberArk showed instructions can hide.
func splitWords(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	var prev rune
	for _, r := range s {
		switch {
		case r == '_' || r == '-':
			b.WriteByte(' ')
			prev = ' '
			continue
		case unicode.IsUpper(r) && (unicode.IsLower(prev) || unicode.IsDigit(prev)):
			b.WriteByte(' ')
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

// matchPatterns reports at most one finding per kind: the first pattern of
// that kind that matches. One line per kind is what a person can act on.
func matchPatterns(field, text string) []Finding {
	var fs []Finding
	var seen []string    // kinds found; nil and unallocated for most text
	var quoted []Finding // quoted examples of discounted kinds (KindQuoted)
	var quotedKinds []string
	lower := strings.ToLower(text)
	for _, p := range patterns {
		if slices.Contains(seen, p.kind) || !containsAny(lower, p.any) {
			continue
		}
		loc := p.re().FindStringSubmatchIndex(text)
		if loc == nil {
			continue
		}
		if discounted[p.kind] && quotedMention(text, loc[0], loc[1]) {
			first := loc
			loc = nil
			for _, l := range p.re().FindAllStringSubmatchIndex(text, -1)[1:] {
				if !quotedMention(text, l[0], l[1]) {
					loc = l
					break
				}
			}
			if loc == nil {
				if !slices.Contains(quotedKinds, p.kind) {
					quotedKinds = append(quotedKinds, p.kind)
					quoted = append(quoted, Finding{Kind: KindQuoted, Field: field,
						Detail: p.label + ", quoted as an example: " + quote(strings.TrimSpace(text[first[0]:first[1]]))})
				}
				continue
			}
		}
		// A pattern with a group names the part worth showing (the path,
		// not the boundary before it).
		if len(loc) >= 4 && loc[2] >= 0 {
			loc = loc[2:4]
		}
		seen = append(seen, p.kind)
		fs = append(fs, Finding{Kind: p.kind, Field: field, Detail: p.label + ": " + quote(strings.TrimSpace(text[loc[0]:loc[1]]))})
	}
	for i, q := range quoted {
		if !slices.Contains(seen, quotedKinds[i]) {
			fs = append(fs, q)
		}
	}
	return fs
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// distinctive reports whether a bare tool name is specific enough that its
// mention in another server's text is a reference, not an ordinary word:
// "send_email" or "github.create_issue" are, "read" and "search" are not.
func distinctive(name string) bool {
	return len(name) >= 6 && strings.ContainsAny(name, "_.-")
}

// isTokenByte reports bytes that belong to a tool-name token. ':' and '/'
// are included so "server:send_email" and "mcp/send_email" form one token
// whose tail can then be compared.
func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '-' || c == ':' || c == '/'
}

func isSep(c byte) bool { return c == '_' || c == '.' || c == '-' || c == ':' || c == '/' }

// Names are other servers' names, as a description must not name them
// (shadowing): the distinctive ones, lower-cased, built once for all the
// strings of a listing rather than for each.
type Names struct {
	want    map[string]string // lower-case name → as given
	longest int
}

// NewNames indexes others (see ScanText for which names count).
func NewNames(others []string) *Names {
	n := &Names{want: map[string]string{}}
	for _, o := range others {
		o = strings.TrimSpace(o)
		if distinctive(o) {
			l := strings.ToLower(o)
			n.want[l] = o
			n.longest = max(n.longest, len(l))
		}
	}
	return n
}

// shadowing flags other servers' distinctive tool names mentioned in text,
// either as a whole token or as the tail of a client-prefixed token such as
// "mcp_tool_send_email" (the form in Invariant Labs' shadowing example).
func shadowing(field, text string, others *Names, self string) []Finding {
	if others == nil || len(others.want) == 0 {
		return nil
	}
	want, longest := others.want, others.longest
	var fs []Finding
	reported := map[string]bool{}
	for i := 0; i < len(text); {
		if !isTokenByte(text[i]) {
			i++
			continue
		}
		j := i
		for j < len(text) && isTokenByte(text[j]) {
			j++
		}
		tok := strings.ToLower(strings.TrimRight(text[i:j], ".:-/"))
		i = j
		// Only tails no longer than the longest name can match; starting
		// there keeps a hostile megabyte-long token linear.
		for k := max(0, len(tok)-longest); k < len(tok); k++ {
			if k > 0 && !isSep(tok[k-1]) {
				continue
			}
			name, ok := want[tok[k:]]
			if !ok || reported[name] || strings.EqualFold(name, self) {
				continue // a tool may name itself
			}
			reported[name] = true
			fs = append(fs, Finding{Kind: KindShadowing, Field: field, Detail: "names another server's tool " + quote(name)})
		}
	}
	return fs
}
