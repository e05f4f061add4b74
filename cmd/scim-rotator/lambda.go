package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
)

// The same binary is a Lambda function's bootstrap: started by the Lambda
// runtime (AWS_LAMBDA_RUNTIME_API set), it serves invocations instead of
// parsing its arguments. Each invocation runs one CLI command in this
// process, exactly as `scim-rotator COMMAND -o json` would, and answers its
// JSON document:
//
//	| payload                                      | runs                                     |
//	|----------------------------------------------|------------------------------------------|
//	| a scheduled event (EventBridge), or          | rotate                                   |
//	|   {"command": "rotate"} (the template's)     |                                          |
//	| {"command": "rotate", "now": true, ...}      | rotate --now [--dry-run] [--revoke-old]  |
//	| {"command": "continue"}                      | rotate --continue                        |
//	| {"command": "check"} / {"command": "status"} | check / status                           |
//	| "instances": ["prod"]                        | ... --instance prod                      |
//
// with the flags' own rules. A bad payload (an unknown field, a wrong type,
// a flag the command does not take) is an error naming the field, and
// nothing is run. The function reports an error to Lambda exactly when the
// CLI would exit non-zero: errorType ExitCode1 or ExitCode2, errorMessage
// the command's JSON document (or, when it printed none, its error), so
// that Lambda's error metric and retries mean what the exit code means. A
// payload never carries a secret: the config names them (...SecretsManager
// keys), and nothing secret reaches the response or the logs.
//
// The config is the template's SCIM_ROTATOR_CONFIG_YAML (written at start
// to a private file under the function's /tmp; it holds no secret), else
// the CLI's own $SCIM_ROTATOR_CONFIG. Logs are JSON lines (the template's
// metric filters read them). A rotation gets the invocation's deadline less
// lambdaMargin (`rotate --deadline`): a wait that would pass it ends the run
// Waiting, and the next scheduled invocation resumes it.

// lambdaMargin is the part of an invocation's time kept for ending a
// bounded run (saving where it is, releasing the lease, answering): a
// tenth of it, at most a minute.
func lambdaMargin(left time.Duration) time.Duration {
	return min(time.Minute, left/10)
}

// invocation is a direct invocation's payload.
type invocation struct {
	Command   string   `json:"command"`
	Now       bool     `json:"now"`
	DryRun    bool     `json:"dryRun"`
	RevokeOld bool     `json:"revokeOld"`
	Instances []string `json:"instances"`
}

// scheduledEvent is the part of an EventBridge scheduled event that tells
// it apart from a payload.
type scheduledEvent struct {
	Source     string `json:"source"`
	DetailType string `json:"detail-type"`
}

// payloadError is a payload that runs nothing, naming its field.
type payloadError struct {
	field, why string
}

func (e *payloadError) Error() string {
	return fmt.Sprintf("payload field %q: %s", e.field, e.why)
}

// parseInvocation reads a payload: a scheduled event is a plain rotate.
func parseInvocation(raw []byte) (invocation, error) {
	var ev scheduledEvent
	if json.Unmarshal(raw, &ev) == nil && ev.Source == "aws.events" && ev.DetailType == "Scheduled Event" {
		return invocation{Command: "rotate"}, nil
	}
	var inv invocation
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&inv); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return inv, &payloadError{te.Field, fmt.Sprintf("must be %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return inv, &payloadError{f, `unknown; the fields are "command", "now", "dryRun", "revokeOld" and "instances"`}
		}
		return inv, fmt.Errorf("payload: not a JSON object: %w", err)
	}
	return inv, inv.validate()
}

func jsonKind(kind string) string {
	switch kind {
	case "bool":
		return "true or false"
	case "slice":
		return "a list of names"
	}
	return "a string"
}

// validate applies the flags' rules to a payload.
func (inv invocation) validate() error {
	commands := []string{"rotate", "continue", "check", "status"}
	if !slices.Contains(commands, inv.Command) {
		why := "missing"
		if inv.Command != "" {
			why = fmt.Sprintf("%q is not a command", inv.Command)
		}
		return &payloadError{"command", why + `: one of "rotate", "continue", "check", "status"`}
	}
	if inv.Command != "rotate" {
		for _, f := range []struct {
			name string
			set  bool
		}{{"now", inv.Now}, {"dryRun", inv.DryRun}, {"revokeOld", inv.RevokeOld}} {
			if f.set {
				return &payloadError{f.name, fmt.Sprintf("goes with \"command\": \"rotate\", not %q", inv.Command)}
			}
		}
	}
	if inv.RevokeOld && !inv.Now {
		return &payloadError{"revokeOld", `goes with "now": true (rotate at once, then delete the old token without waiting for quietPeriod)`}
	}
	for _, name := range inv.Instances {
		if strings.TrimSpace(name) == "" || strings.HasPrefix(name, "-") {
			return &payloadError{"instances", fmt.Sprintf("%q is not an instance name", name)}
		}
	}
	return nil
}

// args are the CLI arguments an invocation runs, its deadline (zero: none)
// bounding a rotation.
func (inv invocation) args(configPath string, deadline time.Time, now time.Time) []string {
	cmd := inv.Command
	var args []string
	if cmd == "continue" {
		cmd, args = "rotate", []string{"--continue"}
	}
	args = append([]string{cmd}, args...)
	if inv.Now {
		args = append(args, "--now")
	}
	if inv.DryRun {
		args = append(args, "--dry-run")
	}
	if inv.RevokeOld {
		args = append(args, "--revoke-old")
	}
	if cmd == "rotate" && !deadline.IsZero() {
		left := deadline.Sub(now)
		args = append(args, "--deadline", max(left-lambdaMargin(left), time.Second).Truncate(time.Second).String())
	}
	for _, name := range inv.Instances {
		args = append(args, "--instance", name)
	}
	args = append(args, "-o", "json", "--log-format", "json")
	if configPath != "" {
		args = append(args, "--config", configPath)
	}
	return args
}

// lambdaHandler runs invocations; stderr takes the logs (CloudWatch Logs).
type lambdaHandler struct {
	configPath string
	stderr     io.Writer
	now        func() time.Time
}

// Invoke runs one invocation (lambda.Handler).
func (h *lambdaHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	inv, err := parseInvocation(payload)
	if err != nil {
		fmt.Fprintln(h.stderr, "scim-rotator: "+err.Error())
		return nil, messages.InvokeResponse_Error{Type: "ExitCode2", Message: err.Error()}
	}
	deadline, _ := ctx.Deadline()
	var out, errOut bytes.Buffer
	code := run(ctx, inv.args(h.configPath, deadline, h.now()), strings.NewReader(""), &out, io.MultiWriter(h.stderr, &errOut))
	doc := bytes.TrimSpace(out.Bytes())
	if !json.Valid(doc) {
		doc = nil
	}
	if code == exitOK && doc != nil {
		return doc, nil
	}
	msg := string(doc)
	if msg == "" {
		msg = lastLine(errOut.String())
		if msg == "" {
			msg = fmt.Sprintf("%s printed no JSON document", inv.Command)
		}
	}
	if code == exitOK {
		code = exitFailed // a command that answers no document has not done its job
	}
	return nil, messages.InvokeResponse_Error{Type: fmt.Sprintf("ExitCode%d", code), Message: msg}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// serveLambda serves invocations until the runtime stops the process. The
// config's text, when the template gives it, is written once to a file only
// this process may read.
func serveLambda(ctx context.Context, stderr io.Writer) int {
	h := &lambdaHandler{stderr: stderr, now: time.Now}
	if text := os.Getenv("SCIM_ROTATOR_CONFIG_YAML"); text != "" {
		dir, err := os.MkdirTemp("", "scim-rotator-")
		if err == nil {
			h.configPath = filepath.Join(dir, "scim-rotator.yaml")
			err = os.WriteFile(h.configPath, []byte(text), 0o600)
		}
		if err != nil {
			fmt.Fprintln(stderr, "scim-rotator: write the config from SCIM_ROTATOR_CONFIG_YAML: "+err.Error())
			return exitUsage
		}
	}
	lambda.StartWithOptions(h, lambda.WithContext(ctx))
	return exitOK
}
