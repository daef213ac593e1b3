package sdk

// ExeSuffix ends an executable's file name here: Windows starts only
// files named so.
const ExeSuffix = ".exe"
