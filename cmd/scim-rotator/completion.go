package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// completeFlagValues lets shell completion (cobra's `completion` command)
// complete flag values: each choice flag's choices, and --instance's names
// read from the config (--config, $SCIM_ROTATOR_CONFIG, ./scim-rotator.yaml).
func (a *app) completeFlagValues(root *cobra.Command) {
	choices := map[string]func(*cobra.Command) []string{
		"log-format": func(*cobra.Command) []string { return []string{"console", "json"} },
		"log-level":  func(*cobra.Command) []string { return logLevels },
		"okta":       func(*cobra.Command) []string { return []string{"api", "handoff", "none"} },
		"output": func(cmd *cobra.Command) []string {
			if cmd.Name() == "version" || cmd.Name() == "rotate" {
				return []string{"text", "json"}
			}
			return []string{"table", "json"}
		},
		"instance": func(*cobra.Command) []string {
			cfg, err := a.loadConfig()
			if err != nil {
				return nil
			}
			var names []string
			for _, in := range cfg.InstanceList() {
				names = append(names, in.Name)
			}
			return names
		},
	}
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		for name, values := range choices {
			flags := cmd.LocalNonPersistentFlags()
			if cmd == root {
				flags = cmd.PersistentFlags()
			}
			if flags.Lookup(name) == nil {
				continue
			}
			_ = cmd.RegisterFlagCompletionFunc(name, func(c *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
				var out []string
				for _, v := range values(c) {
					if strings.HasPrefix(v, prefix) {
						out = append(out, v)
					}
				}
				return out, cobra.ShellCompDirectiveNoFileComp
			})
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
