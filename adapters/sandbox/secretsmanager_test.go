package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
)

const smTestRegion = "eu-west-1"

func newSMTest(t *testing.T) (*SecretsManager, *Faults, *sm.Client, *httptest.Server) {
	t.Helper()
	faults := &Faults{}
	fake := NewSecretsManager(faults, smTestRegion, nil)
	srv := httptest.NewTLSServer(fake)
	t.Cleanup(srv.Close)
	c := sm.New(sm.Options{
		Region:       smTestRegion,
		Credentials:  AWSCredentials(),
		BaseEndpoint: aws.String(srv.URL),
		HTTPClient:   srv.Client(),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})
	return fake, faults, c, srv
}

func smCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func tok(n int) *string { return aws.String(strings.Repeat(string(rune('a'+n)), 32)) }

func put(t *testing.T, c *sm.Client, id *string, value string, stages ...string) *sm.PutSecretValueOutput {
	t.Helper()
	out, err := c.PutSecretValue(t.Context(), &sm.PutSecretValueInput{SecretId: aws.String("s"), ClientRequestToken: id, SecretString: aws.String(value), VersionStages: stages})
	if err != nil {
		t.Fatalf("PutSecretValue: %v", err)
	}
	return out
}

func TestSecretsManagerStages(t *testing.T) {
	fake, _, c, _ := newSMTest(t)
	ctx := t.Context()
	arn := fake.CreateSecret("s")

	// The first version gets AWSCURRENT even when asked for AWSPENDING.
	put(t, c, tok(0), "v0", "AWSPENDING")
	if got := fake.Stages("s")[*tok(0)]; !slices.Equal(got, []string{"AWSPENDING", "AWSCURRENT"}) {
		t.Fatalf("first version stages = %v", got)
	}
	// Without VersionStages, AWSCURRENT moves and AWSPREVIOUS follows.
	put(t, c, tok(1), "v1")
	want := map[string][]string{*tok(0): {"AWSPENDING", "AWSPREVIOUS"}, *tok(1): {"AWSCURRENT"}}
	if got := fake.Stages("s"); !equalStages(got, want) {
		t.Fatalf("stages = %v, want %v", got, want)
	}
	// A label is unique: AWSPENDING moves to the new version.
	put(t, c, tok(2), "v2", "AWSPENDING")
	if v, _ := fake.Value("s", "AWSPENDING"); v != "v2" {
		t.Fatalf("AWSPENDING value = %q", v)
	}
	if v, _ := fake.Value("s", "AWSCURRENT"); v != "v1" {
		t.Fatalf("AWSCURRENT value = %q", v)
	}

	// Moving AWSCURRENT without RemoveFromVersionId is refused.
	_, err := c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: aws.String(arn), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: tok(2)})
	if smCode(err) != "InvalidParameterException" {
		t.Fatalf("move without RemoveFromVersionId: %v", err)
	}
	// RemoveFromVersionId that does not hold the label is refused.
	_, err = c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: aws.String(arn), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: tok(2), RemoveFromVersionId: tok(0)})
	if smCode(err) != "InvalidParameterException" {
		t.Fatalf("move with wrong RemoveFromVersionId: %v", err)
	}
	// The right move: AWSPREVIOUS follows the old current.
	if _, err := c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: aws.String(arn), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: tok(2), RemoveFromVersionId: tok(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSPENDING"), RemoveFromVersionId: tok(2)}); err != nil {
		t.Fatal(err)
	}
	want = map[string][]string{*tok(1): {"AWSPREVIOUS"}, *tok(2): {"AWSCURRENT"}}
	if got := fake.Stages("s"); !equalStages(got, want) {
		t.Fatalf("stages after promotion = %v, want %v", got, want)
	}
	// AWSCURRENT can only move, not be removed.
	_, err = c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"), RemoveFromVersionId: tok(2)})
	if smCode(err) != "InvalidParameterException" {
		t.Fatalf("remove AWSCURRENT: %v", err)
	}

	// tok(0) has no label left: deprecated, listed only on request, still
	// readable by id.
	lv, err := c.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("s")})
	if err != nil || len(lv.Versions) != 2 {
		t.Fatalf("ListSecretVersionIds = %+v, %v", lv, err)
	}
	for _, v := range lv.Versions {
		if v.CreatedDate == nil || v.CreatedDate.IsZero() {
			t.Fatalf("version %s has no CreatedDate", aws.ToString(v.VersionId))
		}
	}
	lv, err = c.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("s"), IncludeDeprecated: aws.Bool(true), MaxResults: aws.Int32(2)})
	if err != nil || len(lv.Versions) != 2 || lv.NextToken == nil {
		t.Fatalf("paged ListSecretVersionIds = %+v, %v", lv, err)
	}
	lv, err = c.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("s"), IncludeDeprecated: aws.Bool(true), NextToken: lv.NextToken})
	if err != nil || len(lv.Versions) != 1 || lv.NextToken != nil {
		t.Fatalf("second page = %+v, %v", lv, err)
	}
	gv, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s"), VersionId: tok(0)})
	if err != nil || aws.ToString(gv.SecretString) != "v0" {
		t.Fatalf("GetSecretValue(deprecated) = %v", err)
	}
	if fake.VersionCount("s") != 3 {
		t.Fatalf("VersionCount = %d", fake.VersionCount("s"))
	}

	d, err := c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil || aws.ToString(d.Name) != "s" || aws.ToString(d.ARN) != arn || len(d.VersionIdsToStages) != 2 {
		t.Fatalf("DescribeSecret = %+v, %v", d, err)
	}
}

func equalStages(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		x, y := slices.Clone(v), slices.Clone(b[k])
		slices.Sort(x)
		slices.Sort(y)
		if !slices.Equal(x, y) {
			return false
		}
	}
	return true
}

func TestSecretsManagerGetSecretValue(t *testing.T) {
	fake, _, c, _ := newSMTest(t)
	arn := fake.CreateSecret("s")
	id := fake.Put("s", "cur")
	tests := []struct {
		name     string
		secret   string
		id, stg  *string
		want     string
		wantCode string
	}{
		{name: "default current", secret: "s", want: "cur"},
		{name: "by arn", secret: arn, want: "cur"},
		{name: "by partial arn", secret: arn[:len(arn)-7], want: "cur"},
		{name: "by id", secret: "s", id: aws.String(id), want: "cur"},
		{name: "by id and stage", secret: "s", id: aws.String(id), stg: aws.String("AWSCURRENT"), want: "cur"},
		{name: "id without that stage", secret: "s", id: aws.String(id), stg: aws.String("AWSPENDING"), wantCode: "ResourceNotFoundException"},
		{name: "no such stage", secret: "s", stg: aws.String("AWSPENDING"), wantCode: "ResourceNotFoundException"},
		{name: "no such id", secret: "s", id: tok(5), wantCode: "ResourceNotFoundException"},
		{name: "no such secret", secret: "nope", wantCode: "ResourceNotFoundException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.GetSecretValue(t.Context(), &sm.GetSecretValueInput{SecretId: aws.String(tc.secret), VersionId: tc.id, VersionStage: tc.stg})
			if tc.wantCode != "" {
				if smCode(err) != tc.wantCode {
					t.Fatalf("err = %v, want %s", err, tc.wantCode)
				}
				return
			}
			if err != nil || aws.ToString(out.SecretString) != tc.want {
				t.Fatalf("got %v, %v", out, err)
			}
		})
	}
}

func TestSecretsManagerIdempotentPut(t *testing.T) {
	fake, _, c, _ := newSMTest(t)
	ctx := t.Context()
	fake.CreateSecret("s")
	put(t, c, tok(0), "cur")
	a := put(t, c, tok(1), "LEAKCANARY-pending", "AWSPENDING")
	b := put(t, c, tok(1), "LEAKCANARY-pending", "AWSPENDING")
	if aws.ToString(a.VersionId) != aws.ToString(b.VersionId) || fake.VersionCount("s") != 2 {
		t.Fatalf("same token twice: versions %d", fake.VersionCount("s"))
	}
	_, err := c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("s"), ClientRequestToken: tok(1), SecretString: aws.String("LEAKCANARY-other"), VersionStages: []string{"AWSPENDING"}})
	if smCode(err) != "ResourceExistsException" {
		t.Fatalf("same token, other value: %v", err)
	}
	if strings.Contains(err.Error(), "LEAKCANARY") {
		t.Fatalf("error leaks the value: %v", err)
	}
	_, err = c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("s"), ClientRequestToken: aws.String("short"), SecretString: aws.String("x")})
	if smCode(err) != "ValidationException" {
		t.Fatalf("short token: %v", err)
	}
	// CreateSecret by the SDK with a value.
	cs, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("t"), SecretString: aws.String("x")})
	if err != nil || aws.ToString(cs.VersionId) == "" {
		t.Fatalf("CreateSecret = %+v, %v", cs, err)
	}
	if _, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("t")}); smCode(err) != "ResourceExistsException" {
		t.Fatalf("CreateSecret twice: %v", err)
	}
}

// rawSMRequest signs a request by hand (the SDK always fills
// ClientRequestToken and uses the right signing name).
func rawSMRequest(t *testing.T, srv *httptest.Server, op, body, service string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", smContentType)
	req.Header.Set("X-Amz-Target", "secretsmanager."+op)
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), awsCredentials, req, hex.EncodeToString(sum[:]), service, smTestRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func TestSecretsManagerWire(t *testing.T) {
	fake, faults, c, srv := newSMTest(t)
	fake.CreateSecret("s")
	tests := []struct {
		name, op, body, service string
		wantStatus              int
		wantType                string
	}{
		{"wrong signing name", "DescribeSecret", `{"SecretId":"s"}`, "secretmanager", 400, "InvalidSignatureException"},
		{"missing ClientRequestToken", "PutSecretValue", `{"SecretId":"s","SecretString":"x"}`, "secretsmanager", 400, "InvalidParameterException"},
		{"unknown operation", "RotateSecret", `{"SecretId":"s"}`, "secretsmanager", 400, "UnknownOperationException"},
		{"ok", "DescribeSecret", `{"SecretId":"s"}`, "secretsmanager", 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := rawSMRequest(t, srv, tc.op, tc.body, tc.service)
			if resp.StatusCode != tc.wantStatus || resp.Header.Get("X-Amzn-ErrorType") != tc.wantType {
				t.Fatalf("status %d type %q, want %d %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), tc.wantStatus, tc.wantType)
			}
		})
	}
	if n := faults.Count("secretsmanager:RotateSecret"); n != 1 {
		t.Fatalf("unknown op recorded %d times", n)
	}

	// Injected faults: the SDK retries 500 and throttling; "answer lost"
	// after a PutSecretValue still leaves one version (same token retried).
	faults.Inject("secretsmanager:DescribeSecret", Fault{Status: 500}, Fault{Status: 429})
	if _, err := c.DescribeSecret(t.Context(), &sm.DescribeSecretInput{SecretId: aws.String("s")}); err != nil {
		t.Fatalf("DescribeSecret after 500, 429: %v", err)
	}
	faults.Inject("secretsmanager:PutSecretValue", Fault{Status: 500, After: true})
	if _, err := c.PutSecretValue(t.Context(), &sm.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("x")}); err != nil {
		t.Fatalf("PutSecretValue after lost answer: %v", err)
	}
	if n := fake.VersionCount("s"); n != 1 {
		t.Fatalf("versions after a retried put = %d, want 1", n)
	}
}

// A custom label moves only from the version that holds it: the
// compare-and-swap the store's lock relies on, atomic under concurrent
// requests.
func TestSecretsManagerLabelCompareAndSwap(t *testing.T) {
	fake, _, c, _ := newSMTest(t)
	ctx := t.Context()
	fake.CreateSecret("s")
	put(t, c, tok(0), "v0")
	put(t, c, tok(1), "v1", "L_NEXT")
	move := func(label string, to, from *string) error {
		_, err := c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String(label), MoveToVersionId: to, RemoveFromVersionId: from})
		return err
	}
	// Attached nowhere: a move without RemoveFromVersionId succeeds; naming
	// a version that does not carry it is refused.
	if err := move("L", tok(1), tok(0)); smCode(err) != "InvalidParameterException" {
		t.Fatalf("move from a version without the label: %v", err)
	}
	if err := move("L", tok(1), nil); err != nil {
		t.Fatal(err)
	}
	// Attached to tok(1): a second move without RemoveFromVersionId is
	// refused (the real service's message names the holder), again onto the
	// holder is a no-op.
	put(t, c, tok(2), "v2", "L_NEXT")
	err := move("L", tok(2), nil)
	if smCode(err) != "InvalidParameterException" || !strings.Contains(err.Error(), "RemoveFromVersionId can't be empty") || !strings.Contains(err.Error(), *tok(1)) {
		t.Fatalf("move without RemoveFromVersionId: %v", err)
	}
	if err := move("L", tok(1), nil); err != nil {
		t.Fatalf("move onto the holder: %v", err)
	}
	// A stale RemoveFromVersionId is refused.
	if err := move("L", tok(2), tok(0)); smCode(err) != "InvalidParameterException" {
		t.Fatalf("move from a stale version: %v", err)
	}
	// Removing from a version that does not carry it is refused.
	if err := move("L", nil, tok(2)); smCode(err) != "InvalidParameterException" {
		t.Fatalf("remove from a version without the label: %v", err)
	}
	if got := fake.Stages("s")[*tok(1)]; !slices.Contains(got, "L") {
		t.Fatalf("refused calls changed the labels: %v", fake.Stages("s"))
	}

	// Racing moves from the same holder: exactly one wins, each round (80
	// versions: within the version quota).
	from := tok(1)
	for round := range 10 {
		const n = 8
		ids := make([]*string, n)
		for i := range ids {
			ids[i] = aws.String(fmt.Sprintf("%032d%02d", round, i))
			put(t, c, ids[i], *ids[i], "L_NEXT")
		}
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := range ids {
			wg.Go(func() { errs <- move("L", ids[i], from) })
		}
		wg.Wait()
		close(errs)
		won := 0
		for err := range errs {
			switch {
			case err == nil:
				won++
			case smCode(err) != "InvalidParameterException":
				t.Fatalf("round %d: a loser got %v", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d moves won, want 1", round, won)
		}
		from = nil
		for id, labels := range fake.Stages("s") {
			if slices.Contains(labels, "L") {
				from = aws.String(id)
			}
		}
		if from == nil || !slices.ContainsFunc(ids, func(id *string) bool { return *id == *from }) {
			t.Fatalf("round %d: the label is not on a racer's version: %v", round, fake.Stages("s"))
		}
	}
}

// The documented version quota: unlabelled versions are removed past 100,
// but never one younger than 24 hours, and a secret with 100 it cannot
// remove takes no new version.
func TestSecretsManagerVersionQuota(t *testing.T) {
	faults := &Faults{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fake := NewSecretsManager(faults, smTestRegion, func() time.Time { return now })
	srv := httptest.NewTLSServer(fake)
	t.Cleanup(srv.Close)
	c := sm.New(sm.Options{Region: smTestRegion, Credentials: AWSCredentials(), BaseEndpoint: aws.String(srv.URL), HTTPClient: srv.Client(),
		Retryer: aws.NopRetryer{}})
	fake.CreateSecret("s")
	id := func(i int) *string { return aws.String(fmt.Sprintf("%032d", i)) }
	put(t, c, id(0), "current") // AWSCURRENT: never removed
	for i := 1; i < 100; i++ {
		now = now.Add(time.Minute)
		put(t, c, id(i), "v", "NEXT") // each moves NEXT: the one before is unlabelled
	}
	_, err := c.PutSecretValue(t.Context(), &sm.PutSecretValueInput{SecretId: aws.String("s"), ClientRequestToken: id(100), SecretString: aws.String("v"), VersionStages: []string{"NEXT"}})
	if smCode(err) != "LimitExceededException" || fake.Refused("s") != 1 || fake.VersionCount("s") != 100 {
		t.Fatalf("the 101st version within a day: %v (%d versions)", err, fake.VersionCount("s"))
	}
	// A day after the first unlabelled version, it goes to make room; the
	// labelled ones stay.
	now = time.Date(2026, 1, 2, 0, 1, 30, 0, time.UTC)
	put(t, c, id(100), "v", "NEXT")
	if fake.VersionCount("s") != 100 {
		t.Fatalf("%d versions, want 100", fake.VersionCount("s"))
	}
	if v, ok := fake.Value("s", "AWSCURRENT"); !ok || v != "current" {
		t.Fatal("a labelled version was removed")
	}
	if got := fake.MostWritten("s", 24*time.Hour); got != 100 {
		t.Fatalf("most written in a day: %d", got)
	}
}
