package factory

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/scim-rotator/scim-rotator/adapters/sandbox"
	"github.com/scim-rotator/scim-rotator/config"
	"github.com/scim-rotator/scim-rotator/rotator"
)

// baseConfig is the AWS config of the sandbox's base credentials, as the
// default chain would give it.
func baseConfig(s *sandbox.Sandbox) aws.Config {
	return aws.Config{Region: sandbox.Region, Credentials: sandbox.AWSCredentials(), HTTPClient: s.Client, RetryMaxAttempts: 1}
}

// instanceConfig is the AWS config every AWS call of inst uses: the base
// one, or its role assumed from it.
func instanceConfig(s *sandbox.Sandbox, inst *sandbox.Instance) aws.Config {
	cfg := baseConfig(s)
	if inst.RoleARN != "" {
		cfg.Credentials = AssumeRoleCredentials(cfg, s.URL("sts"), inst.RoleARN, inst.ExternalID, inst.Name, s.Client)
	}
	return cfg
}

func smClient(s *sandbox.Sandbox, cfg aws.Config) *sm.Client {
	return sm.NewFromConfig(cfg, func(o *sm.Options) { o.BaseEndpoint = aws.String(s.URL("secretsmanager")) })
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// An instance's role is assumed once per credential lifetime and its
// credentials reach that instance's account only.
func TestAssumeRoleCredentials(t *testing.T) {
	s := sandbox.Start(sandbox.Options{Instances: 2})
	defer s.Close()
	inst := s.Instances[1]
	cfg := instanceConfig(s, inst)

	var arn *string
	for range 5 {
		d, err := smClient(s, cfg).DescribeSecret(t.Context(), &sm.DescribeSecretInput{SecretId: aws.String(inst.StoreSecret)})
		if err != nil {
			t.Fatalf("DescribeSecret with the assumed role: %v", err)
		}
		arn = d.ARN
	}
	if n := s.IAM.AssumeRoleCount(inst.RoleARN); n != 1 {
		t.Fatalf("AssumeRole called %d times for 5 requests, want 1 (cached)", n)
	}
	// Refreshing (here forced) assumes the role again.
	cfg.Credentials.(*aws.CredentialsCache).Invalidate()
	if _, err := smClient(s, cfg).DescribeSecret(t.Context(), &sm.DescribeSecretInput{SecretId: arn}); err != nil {
		t.Fatalf("DescribeSecret after a refresh: %v", err)
	}
	if n := s.IAM.AssumeRoleCount(inst.RoleARN); n != 2 {
		t.Fatalf("AssumeRole called %d times after a refresh, want 2", n)
	}

	account, who, err := CallerIdentity(t.Context(), cfg, s.URL("sts"), s.Client)
	if err != nil || account != inst.Account || who != "arn:aws:sts::"+inst.Account+":assumed-role/"+sandbox.RoleName+"/scim-rotator-"+inst.Name {
		t.Fatalf("caller identity %s %s, %v", account, who, err)
	}
	account, who, err = CallerIdentity(t.Context(), baseConfig(s), s.URL("sts"), s.Client)
	if err != nil || account != sandbox.BaseAccount || who != sandbox.BaseARN {
		t.Fatalf("base caller identity %s %s, %v", account, who, err)
	}

	// The base credentials do not reach the instance's account.
	if _, err := smClient(s, baseConfig(s)).DescribeSecret(t.Context(), &sm.DescribeSecretInput{SecretId: arn}); apiCode(err) != "AccessDeniedException" {
		t.Fatalf("base credentials on the instance's secret: %v", err)
	}
	if _, err := smClient(s, baseConfig(s)).DescribeSecret(t.Context(), &sm.DescribeSecretInput{SecretId: aws.String(inst.StoreSecret)}); apiCode(err) != "ResourceNotFoundException" {
		t.Fatalf("base credentials, the instance's secret by name: %v", err)
	}

	// A wrong external id is refused, and nothing is cached.
	bad := baseConfig(s)
	bad.Credentials = AssumeRoleCredentials(bad, s.URL("sts"), inst.RoleARN, "not-"+inst.ExternalID, inst.Name, s.Client)
	_, err = smClient(s, bad).DescribeSecret(t.Context(), &sm.DescribeSecretInput{SecretId: aws.String(inst.StoreSecret)})
	if err == nil || apiCode(err) != "AccessDenied" {
		t.Fatalf("wrong external id: %v", err)
	}
	if _, _, err := CallerIdentity(t.Context(), bad, s.URL("sts"), s.Client); err == nil || !strings.Contains(err.Error(), "get caller identity") {
		t.Fatalf("caller identity with a wrong external id: %v", err)
	}
	if n := s.IAM.AssumeRoleCount(inst.RoleARN); n != 2 {
		t.Fatalf("AssumeRole succeeded %d times, want 2", n)
	}
}

// The session name is scim-rotator-<instance>, cut to STS's 64 characters.
func TestAssumeRoleSessionName(t *testing.T) {
	s := sandbox.Start(sandbox.Options{})
	defer s.Close()
	inst := s.AddInstance(strings.Repeat("a", 60), "210987654321", true)
	account, who, err := CallerIdentity(t.Context(), instanceConfig(s, inst), s.URL("sts"), s.Client)
	want := "arn:aws:sts::210987654321:assumed-role/" + sandbox.RoleName + "/" + (SessionNamePrefix + inst.Name)[:64]
	if err != nil || account != inst.Account || who != want {
		t.Fatalf("caller identity %s %s, %v (want %s)", account, who, err, want)
	}
}

// instanceRotator builds the rotator of one fleet instance from its
// single-instance config, every AWS call made with cfg's credentials.
func instanceRotator(tb testing.TB, s *sandbox.Sandbox, inst *sandbox.Instance, cfg aws.Config) *rotator.Rotator {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), inst.Name+".yaml")
	b, err := yaml.Marshal(s.InstanceConfigMap(inst, nil))
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	c, err := config.Load(path, TargetTypes())
	if err != nil {
		tb.Fatal(err)
	}
	// Each account of a virtual sandbox keeps its own time.
	rot, err := Build(context.Background(), c, Options{Logger: zap.NewNop(), Clock: inst.Clock, HTTPClient: s.Client, AWSCredentials: cfg.Credentials})
	if err != nil {
		tb.Fatal(err)
	}
	return rot
}

// An instance behind a role rotates with its assumed credentials only, and
// touches nothing of the base account's instance; with the base
// credentials it fails.
func TestRotateAssumedInstance(t *testing.T) {
	s, cfgs := startFleet(t, 2)
	defer s.Close()
	inst := s.Instances[1]
	oldID := inst.IC.Tokens()[0].ID // startFleet's live token
	if res := instanceRotator(t, s, inst, cfgs[1]).Run(t.Context(), rotator.RunOptions{Now: true}); res.Outcome != rotator.ReasonRotated {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Message)
	}
	if hold := inst.TargetsHold(); !hold["ssosync"] || slices.ContainsFunc(inst.IC.Tokens(), func(tk sandbox.IdentityCenterToken) bool { return tk.ID == oldID }) {
		t.Fatalf("after the rotation: targets %v, tokens %+v", hold, inst.IC.Tokens())
	}
	if n := s.IC.CreatedCount(); n != 0 {
		t.Fatalf("the base instance's store created %d tokens", n)
	}
	if n := s.IAM.AssumeRoleCount(inst.RoleARN); n != 1 {
		t.Fatalf("AssumeRole %d times for a rotation, want 1", n)
	}
	created := inst.IC.CreatedCount()
	res := instanceRotator(t, s, inst, baseConfig(s)).Run(t.Context(), rotator.RunOptions{Now: true})
	if res.Outcome != rotator.ReasonFailed || inst.IC.CreatedCount() != created || !inst.TargetsHold()["ssosync"] {
		t.Fatalf("with the base credentials: outcome %s: %s", res.Outcome, res.Message)
	}
}

// startFleet starts a sandbox of n instances (instance 1 in the base
// account, the others behind their roles), seeds each with a live token
// and returns it with each instance's AWS config; the caller closes the
// sandbox.
func startFleet(tb testing.TB, n int) (*sandbox.Sandbox, []aws.Config) {
	tb.Helper()
	s := sandbox.Start(sandbox.Options{Instances: n, Virtual: true})
	cfgs := make([]aws.Config, n)
	for i, inst := range s.Instances {
		inst.SeedLiveToken(0)
		cfgs[i] = instanceConfig(s, inst)
	}
	return s, cfgs
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkFleetSandbox starts a 50-instance sandbox and makes one call per
// instance with its own credentials (assuming 49 roles), reporting the
// sandbox's live heap ("sandbox-MB") and the process's peak of memory
// obtained from the OS ("sys-MB"): the floor under the fleet rotation
// benchmark's 150 MB budget.
//
// Measured on 2 shared cores: 47-88 ms per start and 50 calls, 1.3-2 MB of
// sandbox heap, 13-22 MB sys.
func BenchmarkFleetSandbox(b *testing.B) {
	const n = 50
	before := heapInUse()
	var after uint64
	for b.Loop() {
		s, cfgs := startFleet(b, n)
		for i, inst := range s.Instances {
			if _, err := smClient(s, cfgs[i]).DescribeSecret(context.Background(), &sm.DescribeSecretInput{SecretId: aws.String(inst.StoreSecret)}); err != nil {
				b.Fatalf("%s: %v", inst.Name, err)
			}
		}
		after = heapInUse()
		s.Close()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.ReportMetric(float64(after-before)/(1<<20), "sandbox-MB")
	b.ReportMetric(float64(m.Sys)/(1<<20), "sys-MB")
}
