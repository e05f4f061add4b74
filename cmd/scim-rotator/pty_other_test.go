//go:build !linux

package main

import (
	"errors"
	"os"
)

func openPTY() (ptmx, tty *os.File, err error) { return nil, nil, errors.ErrUnsupported }
