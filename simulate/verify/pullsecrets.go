package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	kauth "github.com/google/go-containerregistry/pkg/authn/kubernetes"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	corev1 "k8s.io/api/core/v1"
)

// Auth is the registry credentials an admission request carries beyond the local docker
// config: the pod's imagePullSecrets, in its namespace (what Kyverno's registry client
// uses). Comparable, so that it keys the caches.
type Auth struct {
	Namespace string
	// Secrets are the secret names, sorted and comma-joined.
	Secrets string
}

// PullSecretAuth builds an Auth.
func PullSecretAuth(namespace string, names []string) Auth {
	if len(names) == 0 {
		return Auth{}
	}
	sorted := append([]string{}, names...)
	sort.Strings(sorted)
	return Auth{Namespace: namespace, Secrets: strings.Join(sorted, ",")}
}

// keychain returns the keychain for a, and why some of its secrets could not be read ("" when
// all could). Missing secrets are skipped, as the kubelet and Kyverno's keychain skip them.
func (v *Verifier) keychain(ctx context.Context, a Auth) (authn.Keychain, string) {
	if a.Secrets == "" {
		return v.reg.keychain, ""
	}
	o, _ := v.keychains.do(ctx, authKey("", a), func() (keychainOutcome, error) {
		kc, unread := v.buildKeychain(ctx, a)
		return keychainOutcome{kc, unread}, nil
	})
	return o.kc, o.unread
}

func (v *Verifier) buildKeychain(ctx context.Context, a Auth) (authn.Keychain, string) {
	if v.Secrets == nil {
		return v.reg.keychain, fmt.Sprintf("imagePullSecrets %s/%s are in the cluster, and this run reads none", a.Namespace, a.Secrets)
	}
	var secrets []corev1.Secret
	var unread []string
	for _, name := range strings.Split(a.Secrets, ",") {
		data, err := v.secretData(ctx, a.Namespace, name)
		switch {
		case err == nil:
			typ := corev1.SecretTypeDockerConfigJson
			if _, ok := data[corev1.DockerConfigKey]; ok {
				typ = corev1.SecretTypeDockercfg
			}
			secrets = append(secrets, corev1.Secret{Type: typ, Data: data})
		case v.Secrets.Forbidden(err):
			unread = append(unread, fmt.Sprintf("cannot read imagePullSecret %s/%s: %v", a.Namespace, name, err))
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

// remoteFor is the remote options for a check, and why its credentials are incomplete.
func (v *Verifier) remoteFor(ctx context.Context, a Auth) ([]remote.Option, string) {
	kc, unread := v.keychain(ctx, a)
	return v.reg.remoteOptionsWith(ctx, kc), unread
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
