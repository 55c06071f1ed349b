// Package kubewarden replays Kubewarden's admission decision for policies running the
// verify-image-signatures module (spec/kubewarden-and-peers.md §A1-A2): whether the
// policy's webhook is called (rules, namespaceSelector with the Kubewarden namespace left
// out of cluster policies, objectSelector), the policy's verdict (every matching signatures[]
// entry must verify, images pinned to their digest), and policy-server's post-processing
// (monitor mode, a mutation a non-mutating policy may not make, a custom message).
package kubewarden

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kubectl-verify/kubectl-verify/internal/wildcard"
	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kubewarden"
	"github.com/kubectl-verify/kubectl-verify/simulate/admission"
	"github.com/kubectl-verify/kubectl-verify/simulate/extract"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
)

// EngineName is the `engine` of every check this package makes.
const EngineName = "kubewarden"

// hostError is how the policy sees a failed host call (SDK 0.17 over wapc and
// policy-evaluator's callback handler).
const hostError = "error invoking host capability oci.verify: Host error: Callback evaluation failure: "

// Verifier is what the engine needs from the verify package.
type Verifier interface {
	VerifyKubewardenKeys(ctx context.Context, c verify.KubewardenKeyCheck) (verify.KubewardenResult, error)
	VerifyKubewardenKeyless(ctx context.Context, c verify.KubewardenKeylessCheck) (verify.KubewardenResult, error)
	VerifyKubewardenCertificate(ctx context.Context, c verify.KubewardenCertificateCheck) (verify.KubewardenResult, error)
}

// Engine replays a set of Kubewarden policies.
type Engine struct {
	Policies []*kpol.Policy
	// Namespace is Kubewarden's own, which cluster policies do not see unless they allow it.
	Namespace string
	Verifier  Verifier
}

// Request is one admission request.
type Request struct {
	Object    map[string]any
	Operation string
	// OldObject is the object before an UPDATE (nil on CREATE).
	OldObject map[string]any
	// NamespaceLabels are the labels of the object's namespace.
	NamespaceLabels map[string]string
	// NamespaceUnknown, when set, says why those labels could not be read.
	NamespaceUnknown string
}

// Outcome is the checks of one resource.
type Outcome struct {
	Checks     []report.Check
	NotChecked []report.NotChecked
}

// decision is one policy's answer to one request.
type decision struct {
	checks     []report.Check
	notChecked []report.NotChecked
	// rejected is the policy's own rejection message ("" when it accepts).
	rejected string
	patch    []report.PatchOp
	// toolError, when set, is why the tool could not replay the policy.
	toolError string
}

// Checks evaluates every policy whose webhook the request reaches, for the report.
func (e *Engine) Checks(ctx context.Context, req Request) Outcome {
	var out Outcome
	for _, p := range e.Policies {
		if !p.VerifyImages || !p.Active() {
			continue
		}
		reached, why := e.reaches(p, req)
		if why != "" {
			for _, c := range containers(req.Object) {
				out.Checks = append(out.Checks, report.Check{Engine: EngineName, Policy: p.Key(), Image: c.Image, Path: c.Pointer,
					Result: report.ResultError, Mode: p.Mode, Message: report.ToolErrorPrefix + why})
			}
			continue
		}
		if !reached {
			continue
		}
		called, forbidden := conditions(p, req.Object, req)
		if forbidden != "" {
			// The API server refuses the request itself: the webhook is never called.
			for _, c := range containers(req.Object) {
				out.Checks = append(out.Checks, report.Check{Engine: EngineName, Policy: p.Key(), Image: c.Image, Path: c.Pointer,
					Result: report.ResultError, Mode: p.Mode, Message: forbidden})
			}
			continue
		}
		if !called {
			for _, c := range containers(req.Object) {
				out.NotChecked = append(out.NotChecked, report.NotChecked{Engine: EngineName, Policy: p.Key(), Image: c.Image, Path: c.Pointer, Reason: "excluded"})
			}
			continue
		}
		d := e.evaluate(ctx, p, req.Object)
		out.Checks = append(out.Checks, d.checks...)
		out.NotChecked = append(out.NotChecked, d.notChecked...)
	}
	// An image another policy checked is covered: one policy not selecting it says nothing.
	covered := map[string]bool{}
	for _, c := range out.Checks {
		covered[c.Path] = true
	}
	kept := out.NotChecked[:0]
	for _, n := range out.NotChecked {
		if !covered[n.Path] {
			kept = append(kept, n)
		}
	}
	out.NotChecked = kept
	return out
}

// Webhooks are the policies' webhooks as the API server calls them; enforce answers as if
// every policy were in protect mode.
func (e *Engine) Webhooks(req Request, enforce bool) []admission.Webhook {
	var hooks []admission.Webhook
	for _, p := range e.Policies {
		if !p.VerifyImages || !p.Active() {
			continue
		}
		reached, why := e.reaches(p, req)
		if !reached && why == "" {
			continue
		}
		hooks = append(hooks, admission.Webhook{Name: p.WebhookName(), Configuration: p.UniqueName(), Mutating: p.Mutating,
			Call: func(ctx context.Context, obj map[string]any) admission.Response {
				if why != "" {
					if p.FailurePolicy == "Ignore" || p.Monitor() && !enforce {
						return admission.Response{Allowed: true}
					}
					return admission.Response{Message: report.ToolErrorPrefix + why}
				}
				// Conditions are evaluated on the object as it reaches this webhook.
				called, forbidden := conditions(p, obj, req)
				switch {
				case forbidden != "":
					return admission.Response{Status: forbidden}
				case !called:
					return admission.Response{Allowed: true}
				}
				return respond(p, e.evaluate(ctx, p, obj), enforce)
			}})
	}
	return hooks
}

// respond is policy-server's post-processing of the policy's answer.
func respond(p *kpol.Policy, d decision, enforce bool) admission.Response {
	if p.Monitor() && !enforce {
		return admission.Response{Allowed: true}
	}
	if d.toolError != "" && d.rejected == "" {
		// Not the engine's answer: fail as the webhook's failurePolicy says, saying why. (A
		// rejection the engine certainly makes stands whatever the rest would have said.)
		if p.FailurePolicy == "Ignore" {
			return admission.Response{Allowed: true}
		}
		return admission.Response{Message: report.ToolErrorPrefix + d.toolError}
	}
	msg := d.rejected
	if msg == "" && len(d.patch) > 0 && !p.Mutating {
		msg = fmt.Sprintf("Request rejected by policy %s. The policy attempted to mutate the request, but it is currently configured to not allow mutations.", p.UniqueName())
	}
	if msg != "" {
		// A group's message is its rejection already (the group evaluator writes it).
		if p.Message != "" && !p.Group {
			msg = p.Message
		}
		return admission.Response{Message: msg}
	}
	return admission.Response{Allowed: true, Patch: d.patch}
}

// decide is verify-image-signatures' validate(): every signatures[] entry whose image
// wildcard matches a container's image (as written) must verify; tags verified are pinned
// to the digest the host resolved, unless the image already names it.
func (e *Engine) decide(ctx context.Context, p *kpol.Policy, obj map[string]any) decision {
	var d decision
	cs := containers(obj)
	if len(p.Unsupported) > 0 {
		return notReplayed(p, cs, "policy")
	}
	if !accepts(obj) {
		for _, c := range cs {
			d.notChecked = append(d.notChecked, report.NotChecked{Engine: EngineName, Policy: p.Key(), Image: c.Image, Path: c.Pointer, Reason: "kind-not-handled"})
		}
		return d
	}
	var failures []string
	for _, c := range cs {
		matched := false
		pinned := false
		for i, sig := range p.Settings.Signatures {
			if !wildcard.Match(sig.Image, c.Image) {
				continue
			}
			matched = true
			check := report.Check{Engine: EngineName, Policy: p.Key(), Rule: fmt.Sprintf("signatures[%d]", i), Image: c.Image, Path: c.Pointer, Mode: p.Mode}
			digest, err := e.verify(ctx, sig, c.Image, obj)
			var tool *verify.ToolError
			switch {
			case errors.As(err, &tool):
				check.Result, check.Message = report.ResultError, report.ToolErrorPrefix+tool.Error()
				if d.toolError == "" {
					d.toolError = tool.Error()
				}
			case err != nil:
				check.Result, check.Message = report.ResultFail, hostError+err.Error()
				failures = append(failures, fmt.Sprintf("verification of image %s failed: %s", c.Image, check.Message))
			default:
				check.Result, check.Digest = report.ResultPass, digest
				// The policy tests the original string for the digest: "" is in every string.
				if !pinned && !strings.Contains(c.Image, digest) {
					d.patch = append(d.patch, report.PatchOp{Op: "replace", Path: c.Pointer, Value: c.Image + "@" + digest})
					pinned = true
				}
			}
			d.checks = append(d.checks, check)
		}
		if !matched {
			d.notChecked = append(d.notChecked, report.NotChecked{Engine: EngineName, Policy: p.Key(), Image: c.Image, Path: c.Pointer, Reason: "image-not-selected"})
		}
	}
	if len(failures) > 0 {
		name := ""
		if meta, ok := obj["metadata"].(map[string]any); ok {
			name, _ = meta["name"].(string)
		}
		d.rejected = "Resource " + name + " is not accepted: " + strings.Join(failures, ", ")
	}
	if len(failures) > 0 || d.toolError != "" || !p.Settings.ModifyImagesWithDigest {
		d.patch = nil
	}
	return d
}

// notReplayed is the answer for a policy with fields not replayed: a tool-caused error check
// on every image.
func notReplayed(p *kpol.Policy, cs []extract.Container, what string) decision {
	d := decision{toolError: what + " " + p.Key() + ": " + strings.Join(p.Unsupported, "; ")}
	for _, c := range cs {
		d.checks = append(d.checks, report.Check{Engine: EngineName, Policy: p.Key(), Image: c.Image, Path: c.Pointer, Result: report.ResultError, Mode: p.Mode, Message: report.ToolErrorPrefix + d.toolError})
	}
	return d
}

// verify is the host call of one signatures[] entry: the digest the image resolves to.
func (e *Engine) verify(ctx context.Context, sig kpol.Signature, image string, obj map[string]any) (string, error) {
	switch sig.Kind {
	case kpol.KindPubKeys:
		res, err := e.Verifier.VerifyKubewardenKeys(ctx, verify.KubewardenKeyCheck{Image: image, PubKeys: sig.PubKeys, Annotations: sig.Annotations, Auth: auth(obj)})
		return res.Digest, err
	case kpol.KindKeyless, kpol.KindKeylessPrefix, kpol.KindGitHubActions:
		constraints, err := keylessConstraints(sig)
		if err != nil {
			return "", err
		}
		res, err := e.Verifier.VerifyKubewardenKeyless(ctx, verify.KubewardenKeylessCheck{Image: image, Constraints: constraints, Annotations: sig.Annotations, Auth: auth(obj)})
		return res.Digest, err
	case kpol.KindCertificate:
		// One host call per certificate, in order; the first failure is the answer.
		digest := ""
		for _, cert := range sig.Certificates {
			res, err := e.Verifier.VerifyKubewardenCertificate(ctx, verify.KubewardenCertificateCheck{Image: image, Certificate: cert,
				Chain: sig.CertificateChain, RequireRekorBundle: sig.RequireRekorBundle, Annotations: sig.Annotations, Auth: auth(obj)})
			if err != nil {
				return "", err
			}
			digest = res.Digest
		}
		return digest, nil
	}
	return "", &verify.ToolError{Err: fmt.Errorf("verify-image-signatures %s signatures are not replayed yet", sig.Kind)}
}

// keylessConstraints are the host's constraints for a keyless-like entry, or the host's
// refusal of the entry.
func keylessConstraints(sig kpol.Signature) ([]verify.KubewardenConstraint, error) {
	var out []verify.KubewardenConstraint
	switch sig.Kind {
	case kpol.KindKeyless:
		for _, k := range sig.Keyless {
			out = append(out, verify.KeylessExact{Issuer: k.Issuer, Subject: k.Subject, Annotations: sig.Annotations})
		}
	case kpol.KindKeylessPrefix:
		for _, k := range sig.KeylessPrefix {
			c := verify.KeylessPrefix{Issuer: k.Issuer, URLPrefix: k.URLPrefix, Annotations: sig.Annotations}
			if _, err := c.Prefix(); err != nil {
				// The host panics here (url::Url::parse(...).expect); the request fails.
				return nil, errors.New("Cannot build url prefix") //nolint:staticcheck // the host's text
			}
			out = append(out, c)
		}
	case kpol.KindGitHubActions:
		if sig.GitHubActions.Owner == "" {
			return nil, errors.New("Must provide owner info") //nolint:staticcheck // the host's text
		}
		repo := ""
		if sig.GitHubActions.Repo != nil {
			repo = *sig.GitHubActions.Repo
		}
		return []verify.KubewardenConstraint{verify.GitHubActions{Owner: sig.GitHubActions.Owner, Repo: repo, Annotations: sig.Annotations}}, nil
	}
	if len(out) == 0 {
		return nil, errors.New("Must provide keyless info") //nolint:staticcheck // the host's text
	}
	return out, nil
}

// auth is the workload's imagePullSecrets; Kubewarden's host uses its own registry
// credentials, not the workload's, so none.
func auth(map[string]any) verify.Auth { return verify.Auth{} }

// containers are the pod spec's images in the policy's order: containers, initContainers,
// then ephemeralContainers.
func containers(obj map[string]any) []extract.Container {
	kind, _ := obj["kind"].(string)
	all := extract.Images(kind, obj)
	var out []extract.Container
	for _, t := range []string{"containers", "initContainers", "ephemeralContainers"} {
		for _, c := range all {
			if c.Type == t {
				out = append(out, c)
			}
		}
	}
	return out
}

// acceptedKinds are the kinds the policy reads a pod spec from; any other kind is accepted.
var acceptedKinds = map[string]bool{"Pod": true, "Deployment": true, "StatefulSet": true, "DaemonSet": true, "Job": true,
	"ReplicaSet": true, "ReplicationController": true, "CronJob": true}

func accepts(obj map[string]any) bool {
	kind, _ := obj["kind"].(string)
	return acceptedKinds[kind]
}
