package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The keys of the single-instance form that the fleet form moves into each
// instance.
var instanceKeys = []string{"identityCenter", "store", "targets"}

var (
	// roleARNPattern is an IAM role ARN: arn:PARTITION:iam::ACCOUNT:role/PATH/NAME.
	roleARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$`)
	// externalIDPattern is STS's pattern for ExternalId (its length, 2 to
	// 1224, is checked apart: RE2 repeats at most 1000).
	externalIDPattern = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	// secretARNPattern captures a Secrets Manager secret ARN's region and account.
	secretARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):(\d{12}):secret:(.+)$`)
)

// maxRoleInstanceName is the longest name of an instance that assumes a
// role: its session name scim-rotator-<name> is at most 64 characters.
const maxRoleInstanceName = 64 - len("scim-rotator-")

// Fleet reports whether the file uses the fleet form (instances).
func (c *Config) Fleet() bool { return c.Instances != nil }

// InstanceList is every instance, in the file's order, with its defaults
// applied: the single-instance form's one instance is DefaultInstance.
func (c *Config) InstanceList() []Instance { return slices.Clone(c.resolved) }

// Select returns the instances named (every instance when names is empty),
// in the file's order. An unknown name is an error naming it.
func (c *Config) Select(names []string) ([]Instance, error) {
	if len(names) == 0 {
		return c.InstanceList(), nil
	}
	all := c.InstanceList()
	known := make([]string, len(all))
	for i, in := range all {
		known[i] = in.Name
	}
	var unknown []string
	for _, n := range names {
		if !slices.Contains(known, n) && !slices.Contains(unknown, n) {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		quoted := make([]string, len(unknown))
		for i, n := range unknown {
			quoted[i] = Quote(n)
		}
		what := "instances: " + strings.Join(known, ", ")
		if !c.Fleet() {
			what = "the single-instance file's instance is " + DefaultInstance
		}
		return nil, &Error{Key: "instances", Msg: fmt.Sprintf("no instance named %s (%s)", strings.Join(quoted, ", "), what)}
	}
	var out []Instance
	for _, in := range all {
		if slices.Contains(names, in.Name) {
			out = append(out, in)
		}
	}
	return out, nil
}

// rootKeys is the set of top-level keys of the document.
func rootKeys(n *yaml.Node) map[string]bool {
	keys := map[string]bool{}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			keys[n.Content[i].Value] = true
		}
	}
	return keys
}

// checkForm refuses a file that mixes the single-instance and fleet forms.
func checkForm(has map[string]bool) error {
	if !has["instances"] {
		return nil
	}
	var mixed []string
	for _, k := range instanceKeys {
		if has[k] {
			mixed = append(mixed, k)
		}
	}
	if len(mixed) == 0 {
		return nil
	}
	them := "them"
	if len(mixed) == 1 {
		them = "it"
	}
	return &Error{Key: "instances", Msg: fmt.Sprintf("cannot be combined with the top-level %s (the single-instance form): move %s into each instance",
		strings.Join(mixed, ", "), them)}
}

// instanceView is instance in as a single-instance configuration: the
// shared keys, its own keys and its overrides.
func (c *Config) instanceView(in InstanceConfig) *Config {
	v := *c
	v.Instances, v.resolved = nil, nil
	v.IdentityCenter, v.Store, v.Targets = in.IdentityCenter, in.Store, in.Targets
	for _, d := range []struct{ own, shared *Duration }{
		{&in.RotateBefore, &v.RotateBefore}, {&in.ConfirmTimeout, &v.ConfirmTimeout}, {&in.LockTimeout, &v.LockTimeout},
	} {
		if d.own.IsSet() {
			*d.shared = *d.own
		}
	}
	return &v
}

// validateInstances checks the fleet form's instances: names, roles, the
// overridden durations, each instance's own keys, and that no two instances
// share a store.
func (c *Config) validateInstances(types TargetTypes) []error {
	var errs []error
	add := func(key, msg string) { errs = append(errs, &Error{Key: key, Msg: msg}) }
	if len(c.Instances) == 0 {
		add("instances", "at least one instance is required")
	}
	names := map[string]int{}
	stores := map[string]int{}
	identityStores := map[string]int{}
	for i, in := range c.Instances {
		key := fmt.Sprintf("instances[%d].", i)
		switch {
		case in.Name == "":
			add(key+"name", "required")
		case !namePattern.MatchString(in.Name):
			add(key+"name", fmt.Sprintf("%s must be lower-case letters, digits and dashes (at most 63)", Quote(in.Name)))
		case in.AWS.RoleARN != "" && len(in.Name) > maxRoleInstanceName:
			add(key+"name", fmt.Sprintf("at most %d characters with aws.roleArn (the role session name scim-rotator-<name> is at most 64)", maxRoleInstanceName))
		default:
			if j, dup := names[in.Name]; dup {
				add(key+"name", fmt.Sprintf("duplicate instance name %s (also instances[%d])", Quote(in.Name), j))
			} else {
				names[in.Name] = i
			}
		}
		account := ""
		switch role := in.AWS.RoleARN; {
		case role == "":
			if in.AWS.ExternalID != "" {
				add(key+"aws.externalId", "only with aws.roleArn")
			}
		case !roleARNPattern.MatchString(role):
			add(key+"aws.roleArn", fmt.Sprintf("%s is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)", Quote(role)))
		default:
			account = roleARNPattern.FindStringSubmatch(role)[1]
		}
		if x := in.AWS.ExternalID; x != "" && (len(x) < 2 || len(x) > 1224 || !externalIDPattern.MatchString(x)) {
			add(key+"aws.externalId", "must be 2 to 1224 letters, digits or +=,.@:/-_")
		}

		v := c.resolved[i].Config
		errs = append(errs, validateTimes(key, setOnly(in.RotateBefore), setOnly(in.ConfirmTimeout), setOnly(in.LockTimeout))...)
		errs = append(errs, v.validateInstance(key, types)...)

		// Two instances of one identity store would rotate the same tokens
		// under different locks and could delete each other's.
		if id := v.IdentityCenter.IdentityStoreID; id != "" {
			if j, dup := identityStores[id]; dup {
				add(key+"identityCenter.identityStoreId", fmt.Sprintf("%s is already instances[%d]'s: two instances would rotate the same tokens under different locks", Quote(id), j))
			} else {
				identityStores[id] = i
			}
		}
		if id := storeIdentity(v.Store, account); v.Store.SecretID != "" {
			if j, dup := stores[id]; dup {
				add(key+"store.secretId", fmt.Sprintf("%s in %s is already instances[%d]'s store (same account and region): each instance needs its own store secret",
					Quote(v.Store.SecretID), v.Store.Region, j))
			} else {
				stores[id] = i
			}
		}
	}
	return errs
}

func setOnly(d Duration) *Duration {
	if !d.IsSet() {
		return nil
	}
	return &d
}

// storeIdentity names the secret a store is: account (from the role; ""
// is the base credentials' account), region and name, unless the id is an
// ARN that says its own region and account. A partial ARN (no random
// suffix) matches the name; a full ARN's suffix is kept (a name may end
// in anything).
func storeIdentity(s Store, account string) string {
	region, name := s.Region, s.SecretID
	if m := secretARNPattern.FindStringSubmatch(s.SecretID); m != nil {
		region, account, name = m[1], m[2], m[3]
	}
	return account + "\x00" + region + "\x00" + name
}
