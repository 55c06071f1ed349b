package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	kauth "github.com/google/go-containerregistry/pkg/authn/kubernetes"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	corev1 "k8s.io/api/core/v1"
)

// Auth is the registry credentials a check is made with beyond the local docker config:
// Secrets in the cluster, such as the pod's imagePullSecrets or those a policy names.
// Comparable, so that it keys the caches.
type Auth struct {
	// Secrets are namespace/name references, sorted and comma-joined.
	Secrets string
}

// PullSecretAuth is the pod's imagePullSecrets, in its namespace.
func PullSecretAuth(namespace string, names []string) Auth {
	return Auth{}.Plus(namespace, names)
}

// Plus adds Secrets: a name alone is in defaultNamespace, namespace/name is taken as it is
// (a leading slash is dropped), as Kyverno qualifies imageRegistryCredentials.secrets.
func (a Auth) Plus(defaultNamespace string, refs []string) Auth {
	if len(refs) == 0 {
		return a
	}
	var all []string
	if a.Secrets != "" {
		all = strings.Split(a.Secrets, ",")
	}
	for _, r := range refs {
		r = strings.TrimPrefix(r, "/")
		if !strings.Contains(r, "/") {
			r = defaultNamespace + "/" + r
		}
		if !slices.Contains(all, r) {
			all = append(all, r)
		}
	}
	sort.Strings(all)
	return Auth{Secrets: strings.Join(all, ",")}
}

// keychain returns the keychain for a, and why some of its secrets could not be read ("" when
// all could). Missing secrets are skipped, as the kubelet and Kyverno's keychain skip them.
func (v *Verifier) keychain(ctx context.Context, a Auth) (authn.Keychain, string) {
	if a.Secrets == "" {
		return v.reg.keychain, ""
	}
	o, _ := v.keychains.Do(ctx, authKey("", a), func() (keychainOutcome, error) {
		kc, unread := v.buildKeychain(ctx, a)
		return keychainOutcome{kc, unread}, nil
	})
	return o.kc, o.unread
}

func (v *Verifier) buildKeychain(ctx context.Context, a Auth) (authn.Keychain, string) {
	if v.Secrets == nil {
		return v.reg.keychain, fmt.Sprintf("registry credentials %s are Secrets in the cluster, and this run reads none", a.Secrets)
	}
	var secrets []corev1.Secret
	var unread []string
	for _, ref := range strings.Split(a.Secrets, ",") {
		namespace, name, _ := strings.Cut(ref, "/")
		data, err := v.secretData(ctx, namespace, name)
		switch {
		case err == nil:
			typ := corev1.SecretTypeDockerConfigJson
			if _, ok := data[corev1.DockerConfigKey]; ok {
				typ = corev1.SecretTypeDockercfg
			}
			secrets = append(secrets, corev1.Secret{Type: typ, Data: data})
		case v.Secrets.Forbidden(err):
			unread = append(unread, fmt.Sprintf("cannot read registry credentials Secret %s: %v", ref, err))
		}
	}
	kc := v.reg.keychain
	if len(secrets) > 0 {
		if pull, err := kauth.NewFromPullSecrets(ctx, secrets); err == nil {
			kc = authn.NewMultiKeychain(pull, v.reg.keychain)
		}
	}
	return kc, strings.Join(unread, "; ")
}

// remoteFor is the remote options for a check, and why its credentials are incomplete. The
// credentials go into the request context so that the run cache answers a request only with
// what was read under the same credentials.
func (v *Verifier) remoteFor(ctx context.Context, a Auth) ([]remote.Option, string) {
	kc, unread := v.keychain(ctx, a)
	return v.reg.remoteOptionsWith(ctx, kc, a.Secrets), unread
}

// refusedWithout turns a registry refusal into a tool error when credentials the engine
// would have had could not be read: the engine's verdict is then unknown.
func refusedWithout(err error, unread string) error {
	if err == nil || unread == "" {
		return err
	}
	var terr *transport.Error
	if errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden) {
		return &ToolError{fmt.Errorf("the registry refused access and %s", unread)}
	}
	return err
}
