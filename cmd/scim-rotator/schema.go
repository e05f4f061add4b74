package main

import (
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scim-rotator/scim-rotator/adapters/factory"
	"github.com/scim-rotator/scim-rotator/config"
)

// schemaVersion is the major version of the JSON documents status, check
// and rotate print (-o json): within it, fields are only ever added. Each
// schema in schemas/ says so, with a const a consumer can check.
const schemaVersion = 1

// schemas are the JSON Schemas of the documents, as `schema NAME` prints
// them: the one copy, embedded in the binary.
//
//go:embed schemas/*.schema.json
var schemas embed.FS

// schemaNames are what `schema` prints, in the order its help lists them.
var schemaNames = []string{"status", "check", "rotate", "config"}

// writeSchema writes the JSON Schema called name: an output document's
// embedded file, or the config file's, generated from this build's types.
func writeSchema(w io.Writer, name string) error {
	if name == "config" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(config.JSONSchema(factory.TargetTypes()))
	}
	b, err := schemas.ReadFile("schemas/" + name + ".schema.json")
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func (a *app) schemaCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:       "schema " + strings.Join(schemaNames, "|"),
		Short:     "Print the JSON Schema of status, check or rotate -o json, or of the configuration file",
		Args:      cobra.ExactArgs(1),
		ValidArgs: schemaNames,
		RunE: func(_ *cobra.Command, args []string) error {
			if !slices.Contains(schemaNames, args[0]) {
				return usageErr(fmt.Errorf("unknown schema %q: use one of %s", args[0], strings.Join(schemaNames, ", ")))
			}
			return writeSchema(a.stdout, args[0])
		},
	}
	return describe(cmd, "The schemas are part of the binary (JSON Schema 2020-12 for the documents, draft-07 for the\n"+
		"config). status, check and rotate -o json print one document each: {\"schemaVersion\": 1,\n"+
		"\"exitCode\": N, \"instances\": [{\"name\": ...}, ...]}, the same shape for a config with one instance\n"+
		"or many. The contract: within a schemaVersion fields are only ever added, so no object in these\n"+
		"schemas refuses a property it does not list, and a consumer that validates with this version's\n"+
		"schema accepts a later version's output; a change that breaks it raises schemaVersion.\n"+
		"schema config prints what config schema prints: the configuration file's schema, which does refuse\n"+
		"unknown keys (a misspelt key is an error, not a later addition).",
		"  scim-rotator schema status > status.schema.json\n  scim-rotator schema rotate\n  scim-rotator schema config > scim-rotator.schema.json",
		"0  printed")
}
