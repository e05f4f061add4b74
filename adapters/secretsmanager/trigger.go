package secretsmanager

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/scim-rotator/scim-rotator/adapters/internal/awsbase"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// invoker is the slice of the Lambda SDK the trigger uses.
type invoker interface {
	Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

var _ invoker = (*lambda.Client)(nil)

// trigger invokes the function that reads the secret, so that it syncs with
// the new value now instead of on its schedule.
type trigger struct {
	api      invoker
	function string
	region   string
}

// newTrigger builds the Lambda client for cfg's trigger; nil without one.
func newTrigger(ctx context.Context, cfg TargetConfig, opts Options) (*trigger, error) {
	tc := cfg.Trigger
	if tc == nil || tc.LambdaFunction == "" {
		return nil, nil
	}
	region := tc.Region
	if region == "" {
		region = cfg.Region
	}
	awsCfg, err := loadAWSConfig(ctx, region, opts)
	if err != nil {
		return nil, err
	}
	c := lambda.NewFromConfig(awsCfg, func(o *lambda.Options) {
		if tc.Endpoint != "" {
			o.BaseEndpoint = aws.String(tc.Endpoint)
		}
		for _, fn := range opts.lambdaOptions {
			fn(o)
		}
	})
	return &trigger{api: c, function: tc.LambdaFunction, region: region}, nil
}

// invoke starts the function asynchronously (InvocationType Event, or DryRun
// to test the permission without running it). The payload is an empty JSON
// object: the function reads the token from the secret, never from here.
func (tr *trigger) invoke(ctx context.Context, typ types.InvocationType) error {
	_, err := tr.api.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(tr.function),
		InvocationType: typ,
		Payload:        []byte("{}"),
	})
	return tr.wrap(err)
}

// statement is the IAM policy statement the rotator's role needs.
func (tr *trigger) statement() string {
	return fmt.Sprintf(`{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"%s"}`, tr.resource())
}

// resource is the function's ARN where known, else a pattern for its name.
func (tr *trigger) resource() string {
	if LambdaFunctionRegion(tr.function) != "" {
		return tr.function
	}
	return fmt.Sprintf("arn:aws:lambda:%s:<account-id>:function:%s", tr.region, tr.function)
}

// wrap names the function and says what to do: throttling and server
// errors are transient (the SDK already retried); access denied carries
// the IAM statement; anything else is permanent.
func (tr *trigger) wrap(err error) error {
	if err == nil {
		return nil
	}
	code := awsbase.Code(err)
	msg := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg = ae.ErrorMessage()
	}
	switch {
	case awsbase.Denied(err):
		return &explained{msg: fmt.Sprintf("invoke lambda function %s: access denied (%s: %s): allow the rotator's role %s", tr.function, code, msg, tr.statement()), err: err}
	case code == "ResourceNotFoundException":
		return &explained{msg: fmt.Sprintf("invoke lambda function %s: no such function in %s (%s: %s): fix trigger.lambdaFunction or trigger.region", tr.function, tr.region, code, msg), err: err}
	}
	out := fmt.Errorf("invoke lambda function %s: %w", tr.function, err)
	if awsbase.Transient(err) {
		return rotator.Transient(out)
	}
	return out
}

// explained is an SDK error said in our own words: its text replaces the
// SDK's, its chain keeps the answer's code for the hint (fixFor).
type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }
