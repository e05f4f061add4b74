package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-rotator/scim-rotator/adapters/metrics"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// The lists that repeat the rotator's reasons are held to them here, where
// they are all importable: config, which imports nothing of ours, spells
// them out by hand for notifyOn; the metrics bound the result label; the
// README documents each.

// notNotifiable are the reasons no alert ever carries, and why.
var notNotifiable = map[rotator.Reason]string{
	rotator.ReasonDryRun: "a dry run returns its plan before the run's finish: nothing is logged as an outcome, nothing is alerted",
	rotator.ReasonBusy:   "finish never alerts Busy: another run holds the lock and reports its own outcome",
}

// rotatorReasons are the values of every constant of type Reason that the
// rotator package declares, read from its source: the package has no list
// of them, and a reason added there must not be missed here.
func rotatorReasons(t *testing.T) []rotator.Reason {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "rotator", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var reasons []rotator.Reason
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			var typ ast.Expr
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				if vs.Type != nil || len(vs.Values) > 0 {
					typ = vs.Type // a spec with neither repeats the previous one's
				}
				if id, ok := typ.(*ast.Ident); !ok || id.Name != "Reason" {
					continue
				}
				for i, name := range vs.Names {
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: rotator.%s is not a string literal: read it another way", fset.Position(name.Pos()), name.Name)
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					reasons = append(reasons, rotator.Reason(v))
				}
			}
		}
	}
	// The parse sees the constants this file names, or it reads nothing.
	for _, r := range []rotator.Reason{rotator.ReasonRotated, rotator.ReasonDryRun, rotator.ReasonBusy, rotator.ReasonRevokedTokenUsed} {
		if !slices.Contains(reasons, r) {
			t.Fatalf("the rotator's source read as reasons %v, without %s", reasons, r)
		}
	}
	return reasons
}

// config.NotifyOutcomes is exactly the reasons an alert can carry.
func TestNotifyOutcomesAreTheNotifiableReasons(t *testing.T) {
	reasons := rotatorReasons(t)
	for r, why := range notNotifiable {
		if !slices.Contains(reasons, r) {
			t.Errorf("%s is listed as not notifiable (%s) but the rotator has no such reason", r, why)
		}
	}
	for _, r := range reasons {
		_, never := notNotifiable[r]
		listed := slices.Contains(config.NotifyOutcomes, string(r))
		switch {
		case never && listed:
			t.Errorf("config.NotifyOutcomes lists %s, which no alert carries: %s", r, notNotifiable[r])
		case !never && !listed:
			t.Errorf("config.NotifyOutcomes lacks %s: notifyOn cannot select it (or add it to notNotifiable, with the reason)", r)
		}
	}
	seen := map[string]bool{}
	for _, o := range config.NotifyOutcomes {
		if !slices.Contains(reasons, rotator.Reason(o)) {
			t.Errorf("config.NotifyOutcomes lists %q, which is no rotator reason", o)
		}
		if seen[o] {
			t.Errorf("config.NotifyOutcomes lists %q twice", o)
		}
		seen[o] = true
	}
}

// Every reason counts under its own result label, not as "Other".
func TestEveryReasonHasAMetricLabel(t *testing.T) {
	for _, r := range rotatorReasons(t) {
		reg := prometheus.NewRegistry()
		metrics.New(reg, buildMetrics()).ForInstance("default").RotationDone(r)
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var counted []string
		for _, mf := range families {
			if mf.GetName() != metrics.NameRotations {
				continue
			}
			for _, m := range mf.GetMetric() {
				if m.GetCounter().GetValue() == 0 {
					continue // pre-initialised
				}
				for _, l := range m.GetLabel() {
					if l.GetName() == "result" {
						counted = append(counted, l.GetValue())
					}
				}
			}
		}
		if len(counted) != 1 || counted[0] != string(r) {
			t.Errorf("a run that ends %s is counted as result %v, want [%s]: add it to the metrics' known results", r, counted, r)
		}
	}
}

// Every reason has its line in the README's table of outcomes, and the
// table has no other line.
func TestEveryReasonHasAREADMELine(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n### Outcomes\n")
	if !ok {
		t.Fatal("README.md has no section ### Outcomes")
	}
	if end := strings.Index(section, "\n#"); end >= 0 {
		section = section[:end]
	}
	row := regexp.MustCompile("(?m)^\\| `([A-Za-z]+)` \\|")
	var documented []rotator.Reason
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		documented = append(documented, rotator.Reason(m[1]))
	}
	reasons := rotatorReasons(t)
	for _, r := range reasons {
		if !slices.Contains(documented, r) {
			t.Errorf("README.md's outcomes table has no line | `%s` |", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(reasons, d) {
			t.Errorf("README.md's outcomes table documents %s, which is no rotator reason", d)
		}
	}
}
