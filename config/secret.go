package config

import (
	"fmt"
	"os"
	"strings"
)

// ReadSecret reads a secret named by a pair of ...Env / ...File keys. key is
// the config path of the pair without its suffix (for example
// "targets[1].entra.clientSecret") so that every error names the exact key.
// The value never appears in an error.
func ReadSecret(key, env, file string) (string, error) {
	switch {
	case env != "" && file != "":
		return "", &Error{Key: key + "Env", Msg: "not with " + key + "File: set only one of the two"}
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || strings.TrimSpace(v) == "" {
			return "", &Error{Key: key + "Env", Msg: fmt.Sprintf("environment variable %s is not set", env)}
		}
		return strings.TrimSpace(v), nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", &Error{Key: key + "File", Msg: fmt.Sprintf("cannot read %s: %v", file, unwrapPathError(err))}
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", &Error{Key: key + "File", Msg: fmt.Sprintf("file %s is empty", file)}
		}
		return v, nil
	}
	return "", &Error{Key: key + "Env", Msg: "required (or " + key + "File)"}
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Error is a configuration error naming the exact key. The CLI exits 2 on it.
type Error struct {
	Key string
	Msg string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return e.Msg
	}
	return e.Key + ": " + e.Msg
}
