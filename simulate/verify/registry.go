package verify

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/kubectl-verify/kubectl-verify/internal/memo"
)

// Registry says how registries are reached.
type Registry struct {
	// Insecure hosts (host or host:port) are reached over plain HTTP or unverified TLS.
	Insecure map[string]bool
	// ConfigFile is a docker config.json path; empty means the usual lookup
	// ($DOCKER_CONFIG, then ~/.docker/config.json).
	ConfigFile string
	// UserAgent is sent with every request.
	UserAgent string

	keychain  authn.Keychain
	transport http.RoundTripper
	// pullers, one per set of credentials, let every read of a repository share one
	// authenticated transport: without them each cosign and ggcr call pings the registry
	// (and fetches a token) again.
	pullers memo.Memo[*remote.Puller]
}

// NewRegistry prepares a Registry; it reads the docker config file once.
func NewRegistry(configFile string, insecure []string, userAgent string) (*Registry, error) {
	r := &Registry{Insecure: map[string]bool{}, ConfigFile: configFile, UserAgent: userAgent}
	for _, h := range insecure {
		r.Insecure[h] = true
	}
	r.keychain = authn.DefaultKeychain
	if configFile != "" {
		f, err := os.Open(configFile)
		if err != nil {
			return nil, err
		}
		defer f.Close() //nolint:errcheck // read-only
		cf := configfile.New(filepath.Base(configFile))
		if err := cf.LoadFromReader(f); err != nil {
			return nil, err
		}
		r.keychain = fileKeychain{cf}
	}
	base := remote.DefaultTransport.(*http.Transport).Clone()
	insecureT := base.Clone()
	insecureT.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // only for hosts the user named
	r.transport = newRunCache(retrying{sizeLimit{hostSwitch{secure: base, insecure: insecureT, hosts: r.Insecure}}})
	return r, nil
}

type hostSwitch struct {
	secure, insecure http.RoundTripper
	hosts            map[string]bool
}

func (h hostSwitch) RoundTrip(req *http.Request) (*http.Response, error) {
	if h.hosts[req.URL.Host] || h.hosts[req.URL.Hostname()] {
		return h.insecure.RoundTrip(req)
	}
	return h.secure.RoundTrip(req)
}

func (r *Registry) isInsecure(ref string) bool {
	host, _, _ := strings.Cut(ref, "/")
	if r.Insecure[host] {
		return true
	}
	if h, _, ok := strings.Cut(host, ":"); ok && r.Insecure[h] {
		return true
	}
	return false
}

func (r *Registry) nameOptions(ref string) []name.Option {
	if r.isInsecure(ref) {
		return []name.Option{name.Insecure}
	}
	return nil
}

// remoteOptionsWith is how a request with the credentials named creds (from keychain kc)
// reaches registries.
func (r *Registry) remoteOptionsWith(ctx context.Context, kc authn.Keychain, creds string) []remote.Option {
	ctx = context.WithValue(ctx, credentialsKey{}, creds)
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithTransport(r.transport),
		remote.WithRetryStatusCodes(), // retrying does these, honoring Retry-After
		remote.WithRetryBackoff(networkRetries),
	}
	if r.UserAgent != "" {
		opts = append(opts, remote.WithUserAgent(r.UserAgent))
	}
	p, err := r.pullers.Do(ctx, creds, func() (*remote.Puller, error) { return remote.NewPuller(opts...) })
	if err != nil {
		return opts
	}
	return append(opts, remote.Reuse(p))
}

// fileKeychain resolves credentials from one docker config file, like authn.DefaultKeychain
// does from the default one.
type fileKeychain struct{ cf *configfile.ConfigFile }

func (k fileKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	key := target.RegistryStr()
	if key == name.DefaultRegistry {
		key = authn.DefaultAuthKey
	}
	cfg, err := k.cf.GetAuthConfig(key)
	if err != nil {
		return nil, err
	}
	if cfg == (types.AuthConfig{}) {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{
		Username: cfg.Username, Password: cfg.Password, Auth: cfg.Auth,
		IdentityToken: cfg.IdentityToken, RegistryToken: cfg.RegistryToken,
	}), nil
}
