package proctree

// GuardArg, as a program's first argument, makes it the guard of a child
// (RunGuard): the multi-call binaries check for it before anything else.
const GuardArg = "__ica-proctree-guard"

// EnvParentWatch set to "poll" makes StartWatched use the guard on Linux
// too, in place of Pdeathsig: how the tests run the path macOS takes.
const EnvParentWatch = "ICA_MCP_PROXY_PARENT_WATCH"

// IsGuard says whether args (os.Args) ask for the guard.
func IsGuard(args []string) bool { return len(args) > 1 && args[1] == GuardArg }
