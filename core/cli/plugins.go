package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/pluginhost"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

func newPluginsCmd(version string, bundled []string, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "List or install plugins ($ICA_HOME/plugins)",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "Show each plugin found: kind, names provided, version, and why any was refused",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := g.check(); err != nil {
				return err
			}
			return listPlugins(c.Context(), version, g)
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "install [PATH...]",
		Short: "Install plugins into $ICA_HOME/plugins and record their sha256: those bundled in this binary (hard links to it), or the files given",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return installFiles(c.Context(), version, args)
			}
			return installBundled(version, bundled)
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "verify",
		Short: "Check every plugin: owner, permissions, no symlink out of the folder, sha256 as installed",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			a, err := newApp(version, "warn", false)
			if err != nil {
				return err
			}
			defer a.close()
			cands, err := a.host.Discover()
			if err != nil {
				return err
			}
			bad := 0
			for _, cand := range cands {
				if cand.Refused != "" {
					bad++
					_, _ = fmt.Fprintf(stdout, "REFUSED  %s: %s\n", cand.File, cand.Refused)
					continue
				}
				_, _ = fmt.Fprintf(stdout, "ok       %s\n", cand.File)
			}
			if bad > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	})
	return cmd
}

// installOne copies a plugin into the folder and records its sha256.
func installOne(a *app, src string) (string, string, error) {
	dir := PluginsDir(a.settings)
	dst, err := pluginhost.Install(src, dir)
	if err != nil {
		return "", "", fmt.Errorf("install %s: %w", filepath.Base(src), err)
	}
	sum, err := pluginhost.FileSHA256(dst)
	if err != nil {
		return "", "", err
	}
	if err := a.integrity.Record(filepath.Base(dst), sum); err != nil {
		return "", "", fmt.Errorf("record %s: %w", filepath.Base(dst), err)
	}
	return dst, sum, nil
}

// installFiles installs third-party plugins, showing what each says it is
// and its hash; one that does not answer Info as a plugin is removed again.
func installFiles(ctx context.Context, version string, paths []string) error {
	a, err := newApp(version, "warn", false)
	if err != nil {
		return err
	}
	defer a.close()
	for _, src := range paths {
		if !strings.HasPrefix(filepath.Base(src), pluginhost.FilePrefix) {
			return fmt.Errorf("%s: a plugin's file name starts with %s<kind>-<name>", src, pluginhost.FilePrefix)
		}
		dst, sum, err := installOne(a, src)
		if err != nil {
			return err
		}
		cands, err := a.host.Discover()
		if err != nil {
			return err
		}
		for _, c := range cands {
			if c.Path != dst {
				continue
			}
			info, err := a.host.Info(ctx, c)
			if err == nil && c.Refused != "" {
				err = fmt.Errorf("%s", c.Refused)
			}
			if err != nil {
				_ = os.Remove(dst)
				return fmt.Errorf("%s is not a usable plugin (%v); removed", filepath.Base(dst), err)
			}
			_, _ = fmt.Fprintf(stdout, "installed %s\n  kind: %s\n  provides: %s\n  version: %s\n  description: %s\n  sha256: %s\n",
				dst, info.Kind, strings.Join(info.Names, ", "), info.Version, info.Description, sum)
		}
	}
	return nil
}

type pluginRow struct {
	File       string   `json:"file"`
	Path       string   `json:"path"`
	Kind       sdk.Kind `json:"kind"`
	Names      []string `json:"names,omitempty"`
	Version    string   `json:"version,omitempty"`
	APIVersion int      `json:"api_version,omitempty"`
	Desc       string   `json:"description,omitempty"`
	Refused    string   `json:"refused,omitempty"`
}

func listPlugins(ctx context.Context, version string, g *globalFlags) error {
	a, err := newApp(version, "warn", false)
	if err != nil {
		return err
	}
	defer a.close()
	if ctx == nil {
		ctx = context.Background()
	}
	cands, err := a.host.Discover()
	if err != nil {
		return err
	}
	rows := []pluginRow{}
	for _, c := range cands {
		r := pluginRow{File: c.File, Path: c.Path, Kind: c.Kind, Refused: c.Refused}
		if c.Refused == "" {
			info, err := a.host.Info(ctx, c)
			if err != nil {
				r.Refused = err.Error()
			} else {
				r.Names, r.Version, r.APIVersion, r.Desc = info.Names, info.Version, info.APIVersion, info.Description
			}
		}
		rows = append(rows, r)
	}
	if g.output == "json" {
		return printJSON(stdout, map[string]any{"dir": PluginsDir(a.settings), "plugins": rows})
	}
	_, _ = fmt.Fprintf(stdout, "plugins in %s\n\n", PluginsDir(a.settings))
	var out [][]string
	for _, r := range rows {
		status := "ok"
		if r.Refused != "" {
			status = "refused: " + r.Refused
		}
		api := ""
		if r.APIVersion > 0 {
			api = strconv.Itoa(r.APIVersion)
		}
		out = append(out, []string{string(r.Kind), r.File, strings.Join(r.Names, ","), r.Version, api, clip(status, 80)})
	}
	return table(stdout, []string{"KIND", "FILE", "NAMES", "VERSION", "API", "STATUS"}, out)
}

func installBundled(version string, bundled []string) error {
	a, err := newApp(version, "warn", false)
	if err != nil {
		return err
	}
	defer a.close()
	exe, err := selfExecutable()
	if err != nil {
		return err
	}
	if len(bundled) > 0 {
		return installSelf(a, exe, bundled)
	}
	// A build without the bundled plugins: their executables beside it.
	srcDir := filepath.Dir(exe)
	files, err := pluginhost.Bundled(srcDir)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no plugins (ica-plugin-*) beside %s", exe)
	}
	for _, src := range files {
		dst, sum, err := installOne(a, src)
		if err != nil {
			return err
		}
		_, _ = fmt.Fprintf(stdout, "installed %s (sha256 %s…)\n", dst, sum[:12])
	}
	return nil
}

// installSelf installs this executable under each bundled plugin's name,
// as hard links where the filesystem allows (copies otherwise), and
// records their sha256.
func installSelf(a *app, exe string, names []string) error {
	dir := PluginsDir(a.settings)
	sum, err := pluginhost.FileSHA256(exe)
	if err != nil {
		return err
	}
	for _, name := range names {
		linked, err := installSelfAs(a.integrity, exe, dir, name, sum)
		if err != nil {
			return err
		}
		how := "copy of"
		if linked {
			how = "hard link to"
		}
		_, _ = fmt.Fprintf(stdout, "installed %s (%s %s, sha256 %s…)\n", filepath.Join(dir, name), how, exe, sum[:12])
	}
	return nil
}

// installSelfAs puts this executable (whose sha256 is sum) into dir under
// a bundled plugin's name and records the sum; linked says it is a hard
// link rather than a copy.
func installSelfAs(integrity *pluginhost.Integrity, exe, dir, name, sum string) (linked bool, err error) {
	if _, linked, err = pluginhost.InstallAs(exe, dir, name); err != nil {
		return false, fmt.Errorf("install %s into %s: %w", name, dir, err)
	}
	if err := integrity.Record(name, sum); err != nil {
		return false, fmt.Errorf("record %s: %w", name, err)
	}
	return linked, nil
}

func newVersionCmd(version string) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			_, _ = fmt.Fprintf(stdout, "ica-mcp-proxy %s (plugin API %d)\n", version, sdk.APIVersion)
		},
	}
}
