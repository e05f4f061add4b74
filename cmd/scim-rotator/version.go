package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/scim-rotator/scim-rotator/adapters/buildinfo"
	"github.com/scim-rotator/scim-rotator/adapters/metrics"
)

// buildMetrics is the running build as scim_rotator_build_info labels it.
func buildMetrics() metrics.Build {
	b := buildinfo.Get()
	return metrics.Build{Version: b.Version, Revision: b.Revision, GoVersion: b.Go}
}

func (a *app) versionCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version and the source it was built from",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			info := buildinfo.Get()
			switch output {
			case "text":
				fmt.Fprintln(a.stdout, info)
			case "json":
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(info); err != nil {
					return fmt.Errorf("print the version: %w", err)
				}
			default:
				return usageErr(fmt.Errorf("-o: unknown output %q: use text or json", output))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return describe(cmd, "The version is, first found: the release version set at build time with\n"+
		"  -ldflags \"-X "+buildinfo.LdflagsPath+"=v1.2.3\";\n"+
		"the module version Go recorded (a `go install ...@v1.2.3` build says v1.2.3); else devel,\n"+
		"with the VCS revision (its first 12 characters), its time and +dirty when the tree was\n"+
		"modified. scim-rotator --version prints the same line. -o json prints\n"+
		"{\"version\", \"revision\", \"time\", \"dirty\", \"go\", \"platform\"} (revision and time empty when unknown).",
		"  scim-rotator version\n  scim-rotator --version\n  scim-rotator version -o json", "0  printed")
}
