package okta

import (
	"strconv"
	"strings"

	"github.com/scim-rotator/scim-rotator/config"
)

// sdkTypedEnv are the Okta SDK's environment variables that are not strings
// (okta-sdk-golang/v2 okta/config.go, read with kelseyhightower/envconfig
// before any option). Every one of them is overridden by an option in
// newSDKClient, so their values change nothing; but when one does not
// parse, the SDK prints "error parsing" to standard output, which corrupts
// `-o json`. So a malformed one is refused here, naming it, before the SDK
// sees it.
var sdkTypedEnv = map[string]int{ // name -> bit size (0: bool)
	"OKTA_CLIENT_CACHE_ENABLED":          0,
	"OKTA_CLIENT_CACHE_DEFAULT_TTL":      32,
	"OKTA_CLIENT_CACHE_DEFAULT_TTI":      32,
	"OKTA_CLIENT_PROXY_PORT":             32,
	"OKTA_CLIENT_CONNECTION_TIMEOUT":     64,
	"OKTA_CLIENT_REQUEST_TIMEOUT":        64,
	"OKTA_CLIENT_RATE_LIMIT_MAX_RETRIES": 32,
	"OKTA_CLIENT_RATE_LIMIT_MAX_BACKOFF": 64,
	"OKTA_TESTING_DISABLE_HTTPS_CHECK":   0,
}

// checkSDKEnv returns a *config.Error naming the first Okta SDK variable of
// environ ("NAME=value" pairs) that the SDK could not parse; the value is
// not repeated. envconfig also reads each under a longer, prefixed name
// (OKTA_OKTA_CLIENT_..._<name>), which is matched as well.
func checkSDKEnv(environ []string) error {
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "OKTA_") {
			continue
		}
		for want, bits := range sdkTypedEnv {
			if name != want && !strings.HasSuffix(name, "_"+want) {
				continue
			}
			var err error
			if bits == 0 {
				_, err = strconv.ParseBool(value)
			} else {
				_, err = strconv.ParseInt(value, 0, bits)
			}
			if err != nil {
				kind := "an integer"
				if bits == 0 {
					kind = "true or false"
				}
				return &config.Error{Key: name, Msg: "this environment variable is not " + kind + ": the Okta SDK reads it (and would print to standard output); scim-rotator sets every Okta option from its file, so unset it"}
			}
		}
	}
	return nil
}
