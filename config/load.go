package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads, decodes, defaults and validates the file at path; types are
// the target types it may use. Secrets are not read here (see ReadSecret).
func Load(path string, types TargetTypes) (*Config, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(b, types)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a configuration strictly (unknown keys are errors), applies
// defaults and validates it; types are the target types it may use. Every
// error is a *Error naming the exact key; several are joined with errors.Join.
func Parse(data []byte, types TargetTypes) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, tooLarge()
	}
	doc, err := oneDocument(data)
	if err != nil {
		return nil, err
	}
	c := &Config{}
	if len(doc.Content) == 0 {
		return nil, &Error{Msg: "the file is empty"}
	}
	has := rootKeys(doc.Content[0])
	if err := checkForm(has); err != nil {
		return nil, err
	}
	d := decoder{types: types}
	d.decode(doc.Content[0], reflect.ValueOf(c).Elem(), "")
	if len(d.errs) > 0 {
		return nil, capErrors(d.errs)
	}
	c.setDefaults(has)
	if err := c.validate(types); err != nil {
		return nil, err
	}
	return c, nil
}

// oneDocument decodes the file's YAML document, refusing a second one
// (after a --- line): yaml would silently ignore it, and with it whatever
// the operator meant it to say.
func oneDocument(data []byte) (*yaml.Node, error) {
	invalid := func(err error) error {
		return &Error{Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, next yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, invalid(err)
	}
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
		return &doc, nil
	case err != nil:
		return nil, invalid(err)
	}
	return nil, &Error{Msg: fmt.Sprintf("a second YAML document starts at line %d (---): a config file is one document; "+
		"remove the --- line and what follows it, or merge it into the first", next.Line)}
}

// readFile reads path, refusing a file larger than MaxFileSize without
// reading all of it.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{Msg: fmt.Sprintf("cannot read config file: %v", err)}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &Error{Msg: fmt.Sprintf("cannot read config file: %v", err)}
	}
	if len(b) > MaxFileSize {
		return nil, tooLarge()
	}
	return b, nil
}

func tooLarge() error {
	return &Error{Msg: "the config file is larger than 1 MiB: a configuration is a few KB; check that the right file is named"}
}

// decode is a strict, path-aware decoder: it walks the YAML tree alongside
// the Go type so that an unknown key or a wrongly typed value is reported with
// its full path (targets[1].entra.servicePrincipalId), which yaml's own
// KnownFields mode cannot do (it reports a line and a Go type name). A
// target's type-specific blocks are decoded into the blocks their types make.
type decoder struct {
	types TargetTypes
	errs  []error
}

var targetType = reflect.TypeFor[Target]()

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	errs := &d.errs
	// Aliases are refused, not followed: a few KB of nested aliases expand
	// to gigabytes (and as many errors), and a config gains nothing by them.
	switch {
	case n.Kind == yaml.AliasNode:
		*errs = append(*errs, &Error{Key: keyOrRoot(path), Msg: "YAML aliases (*" + clip(n.Value, maxQuoted) + ") are not allowed: write the value out"})
		return
	case n.Anchor != "":
		*errs = append(*errs, &Error{Key: keyOrRoot(path), Msg: "YAML anchors (&" + clip(n.Anchor, maxQuoted) + ") are not allowed: write the value out"})
		return
	}
	if isNull(n) {
		return
	}
	if u, ok := v.Addr().Interface().(yaml.Unmarshaler); ok {
		if err := u.UnmarshalYAML(n); err != nil {
			*errs = append(*errs, &Error{Key: path, Msg: err.Error()})
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			*errs = append(*errs, &Error{Key: keyOrRoot(path), Msg: "must be a mapping of keys to values"})
			return
		}
		fields := structFields(v.Type())
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i].Value, n.Content[i+1]
			sub := join(path, clip(k, maxQuoted))
			if k == "<<" && n.Content[i].Tag == "!!merge" {
				*errs = append(*errs, &Error{Key: sub, Msg: "YAML merge keys are not allowed: write the keys out"})
				continue
			}
			if seen[k] {
				*errs = append(*errs, &Error{Key: sub, Msg: "duplicate key"})
				continue
			}
			seen[k] = true
			idx, ok := fields[k]
			if !ok && v.Type() == targetType {
				if tt, ok := d.types.lookup(k); ok {
					d.decodeBlock(val, v.Addr().Interface().(*Target), tt, sub)
					continue
				}
			}
			if !ok {
				known := d.knownKeys(v.Type(), fields)
				msg := "unknown key"
				if c := Closest(k, known); c != "" {
					msg += ": did you mean " + c + "?"
				}
				*errs = append(*errs, &Error{Key: sub, Msg: msg + " (known keys: " + strings.Join(known, ", ") + ")"})
				continue
			}
			d.decode(val, v.Field(idx), sub)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			*errs = append(*errs, &Error{Key: path, Msg: "must be a list"})
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	default:
		if n.Kind != yaml.ScalarNode {
			*errs = append(*errs, &Error{Key: path, Msg: "must be a " + kindName(v.Kind())})
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			*errs = append(*errs, &Error{Key: path, Msg: fmt.Sprintf("must be a %s, not %s", kindName(v.Kind()), Quote(n.Value))})
		}
	}
}

// decodeBlock decodes a target's block of type tt (null is no block).
func (d *decoder) decodeBlock(n *yaml.Node, t *Target, tt TargetType, path string) {
	if isNull(n) && n.Anchor == "" {
		return
	}
	b := tt.NewBlock()
	d.decode(n, reflect.ValueOf(b).Elem(), path)
	if t.blocks == nil {
		t.blocks = map[string]TargetBlock{}
	}
	t.blocks[tt.Name] = b
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func structFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	return m
}

// knownKeys lists a struct's keys, sorted; a target's include its types'
// blocks.
func (d *decoder) knownKeys(t reflect.Type, fields map[string]int) []string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	if t == targetType {
		keys = append(keys, d.types.Names()...)
	}
	sort.Strings(keys)
	return keys
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "boolean (true or false)"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "whole number"
	}
	return "string"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func keyOrRoot(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}
