//go:build !windows

package sdk

// ExeSuffix ends an executable's file name here: nothing outside Windows.
const ExeSuffix = ""
