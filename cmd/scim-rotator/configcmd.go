package main

import (
	_ "embed"
	"io"

	"github.com/spf13/cobra"
)

func (a *app) configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Commands about the configuration file",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(a.configSchemaCmd(), a.configExampleCmd())
	return describe(cmd, "config schema prints the JSON Schema of the configuration file; config example prints a starting\n"+
		"file to edit; check --config FILE loads and validates a file and checks it against the systems it names.",
		"  scim-rotator config example > scim-rotator.yaml\n  scim-rotator config schema > scim-rotator.schema.json", "0  done")
}

// exampleConfig is the starting file `config example` prints; a test loads it.
//
//go:embed example.yaml
var exampleConfig string

func (a *app) configExampleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "example",
		Short: "Print a starting configuration file to edit",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := io.WriteString(a.stdout, exampleConfig)
			return err
		},
	}
	return describe(cmd, "The file names every required key with a placeholder and one target of each common type\n"+
		"(secretsmanager, entra, okta), with a comment on each: replace the placeholders, delete the targets\n"+
		"you do not use and run scim-rotator check. The README's Configuration section lists every key.",
		"  scim-rotator config example > scim-rotator.yaml", "0  printed")
}

func (a *app) configSchemaCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema (draft-07) of the configuration file",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return writeSchema(a.stdout, "config")
		},
	}
	return describe(cmd, "The schema is generated from the configuration's types and this build's target types: unknown\n"+
		"keys at any depth, enums, duration patterns, required keys and the two forms (top-level\n"+
		"identityCenter, store and targets, or instances). An editor with the YAML language server completes\n"+
		"and checks a file that starts with  # yaml-language-server: $schema=scim-rotator.schema.json\n"+
		"The Helm chart's values.schema.json embeds the same schema under config. Checks across keys or\n"+
		"systems (a handoff target needs usage.source cloudtrail, unique names, lockTimeout at least 10s)\n"+
		"are the loader's: run scim-rotator check. scim-rotator schema config prints the same schema.",
		"  scim-rotator config schema > scim-rotator.schema.json", "0  printed")
}
