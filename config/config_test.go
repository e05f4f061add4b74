package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "s")
	if err := os.WriteFile(file, []byte("LEAKCANARY-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SR_TEST_SET", "LEAKCANARY-env")
	cases := []struct {
		env, file, want, err string
	}{
		{env: "SR_TEST_SET", want: "LEAKCANARY-env"},
		{file: file, want: "LEAKCANARY-file"},
		{env: "SR_TEST_UNSET", err: "k.clientSecretEnv: environment variable SR_TEST_UNSET is not set"},
		{file: filepath.Join(dir, "missing"), err: "k.clientSecretFile: cannot read " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{err: "k.clientSecretEnv: required (or k.clientSecretFile)"},
		{env: "SR_TEST_SET", file: file, err: "k.clientSecretEnv: not with k.clientSecretFile: set only one of the two"},
	}
	for _, c := range cases {
		got, err := ReadSecret("k.clientSecret", c.env, c.file)
		if c.err != "" {
			var ce *Error
			if err == nil || err.Error() != c.err || !errors.As(err, &ce) {
				t.Errorf("ReadSecret(%q,%q) error = %v, want %q", c.env, c.file, err, c.err)
			}
			if err != nil && strings.Contains(err.Error(), "LEAKCANARY") {
				t.Errorf("secret in error: %v", err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ReadSecret(%q,%q) = %q, %v", c.env, c.file, got, err)
		}
	}
}
