package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Entra clouds: each names a login authority and a Microsoft Graph host.
const (
	EntraCloudPublic   = "public"
	EntraCloudUSGov    = "usgov"
	EntraCloudUSGovDoD = "usgovdod"
	EntraCloudChina    = "china"
)

// EntraClouds lists the values entra.cloud accepts.
var EntraClouds = []string{EntraCloudPublic, EntraCloudUSGov, EntraCloudUSGovDoD, EntraCloudChina}

// entraTenantPattern is a tenant id (a GUID) or one of the tenant's domain
// names (contoso.onmicrosoft.com, contoso.com): the token endpoint's path
// segment accepts both.
var entraTenantPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$|^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$`)

// EntraCanaryTypes lists the values entra.canary.objectType accepts.
var EntraCanaryTypes = []string{"User", "Group"}

// setDefaults fills the entra block's defaults: the public cloud, and a canary
// of type User. A canary type written in another case ("user") is spelled
// the way Graph does.
func (t *EntraTarget) setDefaults() {
	if t.Cloud == "" {
		t.Cloud = EntraCloudPublic
	}
	if t.Canary != nil {
		if t.Canary.ObjectType == "" {
			t.Canary.ObjectType = "User"
		}
		for _, v := range EntraCanaryTypes {
			if strings.EqualFold(t.Canary.ObjectType, v) {
				t.Canary.ObjectType = v
			}
		}
	}
}

// validate checks the entra block; key is its path, e.g. "targets[1].entra".
// Errors are *Error values naming the exact key (join several with errors.Join).
func (t *EntraTarget) validate(key string) error {
	var errs []error
	add := func(k, msg string) { errs = append(errs, &Error{Key: key + "." + k, Msg: msg}) }

	switch {
	case t.TenantID == "":
		add("tenantId", "required")
	case !entraTenantPattern.MatchString(t.TenantID):
		add("tenantId", fmt.Sprintf("%s is not a tenant id: a GUID or a domain name such as contoso.onmicrosoft.com", quote(t.TenantID)))
	}
	if t.ServicePrincipalID == "" {
		add("servicePrincipalId", "required: the object id of the enterprise application's service principal")
	}

	// Exactly one way to sign in.
	var kinds []string
	if t.ClientSecretEnv != "" {
		kinds = append(kinds, "clientSecretEnv")
	}
	if t.ClientSecretFile != "" {
		kinds = append(kinds, "clientSecretFile")
	}
	if t.ClientCertificateFile != "" {
		kinds = append(kinds, "clientCertificateFile")
	}
	if t.WorkloadIdentity {
		kinds = append(kinds, "workloadIdentity")
	}
	const oneOf = "clientSecretEnv, clientSecretFile, clientCertificateFile or workloadIdentity: true"
	switch len(kinds) {
	case 0:
		add("clientSecretEnv", "required: set one of "+oneOf)
	case 1:
	default:
		add(kinds[1], fmt.Sprintf("set only one of %s (found %s)", oneOf, strings.Join(kinds, " and ")))
	}
	// Workload identity may take the client id from AZURE_CLIENT_ID, which the
	// AKS webhook sets; every other kind needs it here.
	if t.ClientID == "" && !t.WorkloadIdentity {
		add("clientId", "required (the application (client) id of the app registration the daemon signs in as)")
	}

	if !slices.Contains(EntraClouds, t.Cloud) {
		add("cloud", fmt.Sprintf("unknown cloud %s: one of %s", quote(t.Cloud), strings.Join(EntraClouds, ", ")))
	}
	if err := checkURL(key+".graphEndpoint", t.GraphEndpoint); err != nil {
		errs = append(errs, err)
	}
	if t.AuthorityHost != "" {
		// The identity library refuses an authority that is not https.
		if u, err := url.Parse(t.AuthorityHost); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			add("authorityHost", quoteURL(t.AuthorityHost)+" is not an absolute https URL")
		}
	}
	if t.Canary != nil && !slices.Contains(EntraCanaryTypes, t.Canary.ObjectType) {
		add("canary.objectType", fmt.Sprintf("unknown type %s: one of %s", quote(t.Canary.ObjectType), strings.Join(EntraCanaryTypes, ", ")))
	}
	return errors.Join(errs...)
}
