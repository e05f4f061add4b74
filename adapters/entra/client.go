package entra

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/microsoft/kiota-abstractions-go/serialization"
	azauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	textserialization "github.com/microsoft/kiota-serialization-text-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"

	"github.com/scim-rotator/scim-rotator/adapters/internal/safehttp"
	"github.com/scim-rotator/scim-rotator/config"
)

// cloudEndpoints are where one national cloud signs in and serves Graph.
type cloudEndpoints struct {
	authority cloud.Configuration
	graphBase string // without a trailing slash
	scope     string
}

// clouds maps entra.cloud to its login authority and Graph endpoint.
var clouds = map[string]cloudEndpoints{
	CloudPublic:   {cloud.AzurePublic, "https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/.default"},
	CloudUSGov:    {cloud.AzureGovernment, "https://graph.microsoft.us/v1.0", "https://graph.microsoft.us/.default"},
	CloudUSGovDoD: {cloud.AzureGovernment, "https://dod-graph.microsoft.us/v1.0", "https://dod-graph.microsoft.us/.default"},
	CloudChina:    {cloud.AzureChina, "https://microsoftgraph.chinacloudapi.cn/v1.0", "https://microsoftgraph.chinacloudapi.cn/.default"},
}

// endpoints resolves the cloud and the graphEndpoint / authorityHost
// overrides. The token scope always follows the cloud: an override moves the
// host, not the audience.
func endpoints(cfg Config) (ep cloudEndpoints, customAuthority bool, err error) {
	name := cfg.Cloud
	if name == "" {
		name = CloudPublic
	}
	ep, ok := clouds[name]
	if !ok {
		return ep, false, fmt.Errorf("unknown cloud %q", name)
	}
	if cfg.GraphEndpoint != "" {
		ep.graphBase = strings.TrimRight(cfg.GraphEndpoint, "/")
	}
	if cfg.AuthorityHost != "" {
		host := cfg.AuthorityHost
		if !strings.HasSuffix(host, "/") {
			host += "/"
		}
		ep.authority = cloud.Configuration{ActiveDirectoryAuthorityHost: host, Services: map[cloud.ServiceName]cloud.ServiceConfiguration{}}
		customAuthority = true
	}
	return ep, customAuthority, nil
}

// loginTimeout bounds one token request to the login authority, graphTimeout
// one Graph call (the SDK's default) unless the injected client has its own.
// Variables so that the hang tests can shorten them.
var (
	loginTimeout = 60 * time.Second
	graphTimeout = 100 * time.Second
)

// credential builds the azidentity credential the config names. key is the
// config path of the entra block, for errors.
func credential(ctx context.Context, key string, cfg Config, ep cloudEndpoints, customAuthority bool, hc *http.Client, secrets config.SecretReader) (azcore.TokenCredential, error) {
	// The token request carries the client secret or assertion: no
	// redirect is followed, and it times out.
	co := azcore.ClientOptions{Cloud: ep.authority, Transport: safehttp.Client(hc, loginTimeout)}
	// A custom authority (sandbox, private cloud) has no instance metadata
	// to discover.
	noDiscovery := customAuthority
	switch {
	case cfg.WorkloadIdentity:
		c, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: co, TenantID: cfg.TenantID, ClientID: cfg.ClientID, DisableInstanceDiscovery: noDiscovery,
		})
		if err != nil {
			return nil, fmt.Errorf("%s.workloadIdentity: %w", key, err)
		}
		return c, nil
	case cfg.ClientCertificateFile != "" || cfg.ClientCertificateSecretsManager != nil:
		pem, keyName, where, err := config.ReadKeyMaterial(ctx, key+".clientCertificate", cfg.ClientCertificateFile, cfg.ClientCertificateSecretsManager, secrets)
		if err != nil {
			return nil, err
		}
		certs, pk, err := azidentity.ParseCertificates(pem, nil)
		if err != nil {
			return nil, &config.Error{Key: keyName, Msg: fmt.Sprintf("%s must hold a PEM private key and certificate: %v", where, err)}
		}
		c, err := azidentity.NewClientCertificateCredential(cfg.TenantID, cfg.ClientID, certs, pk, &azidentity.ClientCertificateCredentialOptions{
			ClientOptions: co, DisableInstanceDiscovery: noDiscovery,
		})
		if err != nil {
			return nil, &config.Error{Key: keyName, Msg: err.Error()}
		}
		return c, nil
	default:
		secret, err := config.ReadSecretFrom(ctx, key+".clientSecret", cfg.ClientSecret(), secrets)
		if err != nil {
			return nil, err
		}
		c, err := azidentity.NewClientSecretCredential(cfg.TenantID, cfg.ClientID, secret, &azidentity.ClientSecretCredentialOptions{
			ClientOptions: co, DisableInstanceDiscovery: noDiscovery,
		})
		if err != nil {
			return nil, fmt.Errorf("%s: client secret credential: %w", key, err)
		}
		return c, nil
	}
}

// requestAdapter builds the Graph request adapter: the azidentity credential
// authorizes requests to the Graph host (which must be in the allowed hosts,
// or the SDK silently sends no Authorization header), with the cloud's
// scope, through Graph's default middleware (retry honouring Retry-After,
// gzip request bodies) over hc's transport (nil: the trust store's, safehttp.Transport). Redirects
// are not followed: Graph does not redirect the calls made here, and a
// same-host redirect would carry the bearer token along.
func requestAdapter(cred azcore.TokenCredential, ep cloudEndpoints, hc *http.Client) (*msgraphgocore.GraphRequestAdapterBase, error) {
	u, err := url.Parse(ep.graphBase)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("invalid Graph endpoint %q", ep.graphBase)
	}
	auth, err := azauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{ep.scope}, []string{u.Hostname()})
	if err != nil {
		return nil, err
	}
	opts := msgraphgocore.GraphClientOptions{GraphServiceLibraryVersion: "scim-rotator"}
	// The trust store (Go's roots plus AWS_CA_BUNDLE), as for every client.
	parent := safehttp.Transport()
	timeout := graphTimeout
	if hc != nil {
		if hc.Transport != nil {
			parent = hc.Transport
		}
		if hc.Timeout != 0 {
			timeout = hc.Timeout
		}
	}
	client := &http.Client{
		Transport:     khttp.NewCustomTransportWithParentTransport(ownBody{parent}, middleware(&opts)...),
		Timeout:       timeout,
		CheckRedirect: safehttp.NoRedirect,
	}
	pnf, swf := serializers()
	adapter, err := msgraphgocore.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, opts, pnf, swf, client)
	if err != nil {
		return nil, err
	}
	adapter.SetBaseUrl(ep.graphBase)
	return adapter, nil
}

// middleware is Graph's default middleware in a fixed order. The SDK builds
// its list from a map, so its order changes from run to run; when the retry
// handler lands outside the compression handler, a retried PUT/POST (after a
// 429 or 503) goes out as the uncompressed JSON labelled
// "Content-Encoding: gzip" and Graph refuses it. Compression outside retry
// compresses once and every retry resends the same gzip body.
func middleware(opts *msgraphgocore.GraphClientOptions) []khttp.Middleware {
	return []khttp.Middleware{
		msgraphgocore.NewGraphTelemetryHandler(opts),
		khttp.NewUrlReplaceHandler(true, msgraphgocore.ReplacementPairs),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
		khttp.NewHeadersInspectionHandler(),
		khttp.NewCompressionHandler(),
		khttp.NewRetryHandler(),
	}
}

// ownBody hands the transport its own copy of each request body. The retry
// handler rewinds the one body reader it has and sends it again as soon as a
// 429 arrives, but net/http may still be reading that reader to its end
// after the answer came back (a fast server answers before the client's
// write loop finishes), leaving the retry an empty body: "ContentLength=144
// with Body length 0".
type ownBody struct{ next http.RoundTripper }

func (o ownBody) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return o.next.RoundTrip(r)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	cp := *r // a RoundTripper must not modify the request it is given
	cp.Body = io.NopCloser(bytes.NewReader(b))
	cp.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return o.next.RoundTrip(&cp)
}

var (
	serializersOnce sync.Once
	parseNodes      *serialization.ParseNodeFactoryRegistry
	writers         *serialization.SerializationWriterFactoryRegistry
)

// serializers are the JSON and text (de)serializers the root msgraph client
// would register globally; this package does not import it (it would
// compile every Graph API), so it keeps its own registries.
func serializers() (*serialization.ParseNodeFactoryRegistry, *serialization.SerializationWriterFactoryRegistry) {
	serializersOnce.Do(func() {
		parseNodes = serialization.NewParseNodeFactoryRegistry()
		jp := jsonserialization.NewJsonParseNodeFactory()
		tp := textserialization.NewTextParseNodeFactory()
		parseNodes.ContentTypeAssociatedFactories["application/json"] = jp
		parseNodes.ContentTypeAssociatedFactories["text/plain"] = tp
		writers = serialization.NewSerializationWriterFactoryRegistry()
		jw := jsonserialization.NewJsonSerializationWriterFactory()
		tw := textserialization.NewTextSerializationWriterFactory()
		writers.ContentTypeAssociatedFactories["application/json"] = jw
		writers.ContentTypeAssociatedFactories["text/plain"] = tw
	})
	return parseNodes, writers
}
