// Command scim-rotator rotates the AWS IAM Identity Center SCIM access token
// before it expires. This file only sets up signals and exits with the code
// the command chose; the commands are in cli.go.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
