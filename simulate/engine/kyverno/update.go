package kyverno

import (
	"reflect"
	"strconv"
	"strings"

	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate/extract"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
)

// Admission operations this package replays.
const (
	OperationCreate = "CREATE"
	OperationUpdate = "UPDATE"
)

// StripVerifyAnnotations removes Kyverno's two verify annotations from obj, as the background
// scan does before it re-verifies a live object as a CREATE (spec/kyverno.md §4.5;
// pkg/controllers/report/utils/scanner.go validateImages). The annotations map itself stays,
// possibly empty: an empty map counts as "no annotations" for the patch, as it does there.
func StripVerifyAnnotations(obj map[string]any) {
	meta, _ := obj["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	delete(ann, annotationVerify)
	delete(ann, annotationScoped)
}

// previouslyVerified is the UPDATE short-circuit at the top of imageVerifier.Verify's loop
// (spec/kyverno.md §4.1 step 1; pkg/engine/internal/imageverifier.go Verify and
// isPreviouslyVerified): when the value at the image's pointer is the same in the object as in
// the old object, and the old object's kyverno.io/verify-images-scoped annotation records pass
// or skip for this policy, rule and image, the image is recorded as pass and nothing else
// happens: no rule response, no registry request, no digest patch. On CREATE there is no old
// object; Kyverno's HasChanged then fails and the short-circuit never applies.
//
// obj is the object the policy started from, and patched holds the image values earlier rules
// of the same policy replaced: Kyverno puts each rule's patched object back into request.object before the next
// rule runs (pkg/engine/engine.go invokeRuleHandler), while the rule's images still come from
// the context's image infos, built once from the object before any rule
// (pkg/engine/utils/image.go ExtractMatchingImages, context.ImageInfo).
func (e *Engine) previouslyVerified(req Request, obj map[string]any, patched map[string]string, p *kpol.Policy, rule *kpol.Rule, img imageInfo, md *metadata) bool {
	if req.OldObject == nil {
		return false
	}
	current, ok := valueAt(obj, img.Pointer)
	if v, replaced := patched[img.Pointer]; replaced {
		current, ok = v, true
	}
	if !ok {
		return false
	}
	previous, ok := valueAt(req.OldObject, img.Pointer)
	if !ok || !reflect.DeepEqual(current, previous) {
		return false
	}
	meta, _ := req.OldObject["metadata"].(map[string]any)
	// The image keeps the name the policy context gave it before any rule ran (the context's
	// image infos are not rebuilt after a patch), even where the object is pinned by now.
	image := img.String()
	switch scopedStatus(extract.StringMap(meta["annotations"]), p, rule.Name, image) {
	case statusPass, statusSkip:
	default:
		return false
	}
	// A skip recorded before comes back as pass (addImageVerificationMetadata with
	// ImageVerificationPass), in both annotations.
	md.add(p, rule.Name, image, statusPass, true)
	md.unchanged = append(md.unchanged, report.NotChecked{Engine: EngineName, Policy: p.Key(), Rule: rule.Name, Image: img.Raw, Path: img.Pointer, Reason: report.ReasonPreviouslyVerified})
	return true
}

// cliRequest is the request `kyverno apply` gives one policy. The CLI replays an UPDATE only
// with the old object equal to the object, and rebuilds both from the resource the previous
// policy patched (cmd/cli/kubectl-kyverno/processor/operation.go AdmissionRequestShape;
// policy_processor.go makePolicyContext), so a later policy's old object carries the digest
// and the annotations an earlier one wrote. When our old object equals the object, the CLI
// pipeline does the same; a different old object (which the CLI cannot express) is given to
// every policy as it is, as admission does.
func cliRequest(req Request, obj map[string]any, oldIsObject bool) Request {
	if req.Operation == OperationUpdate && oldIsObject {
		req.OldObject = obj
	}
	return req
}

// oldIsObject reports whether the request's old object is the object itself ("the next
// update of what runs now").
func oldIsObject(req Request) bool {
	return req.OldObject != nil && reflect.DeepEqual(req.OldObject, req.Object)
}

// withUnchanged gives each image the short-circuit let through, and no check covers, the
// reason previously-verified instead of the reason notChecked found for it.
func withUnchanged(nc []report.NotChecked, unchanged []report.NotChecked) []report.NotChecked {
	byPath := map[string]report.NotChecked{}
	for _, u := range unchanged {
		if _, seen := byPath[u.Path]; !seen {
			byPath[u.Path] = u
		}
	}
	for i, n := range nc {
		if u, ok := byPath[n.Path]; ok {
			nc[i] = u
		}
	}
	return nc
}

// valueAt reads a JSON pointer (RFC 6901) in obj.
func valueAt(obj map[string]any, pointer string) (any, bool) {
	if !strings.HasPrefix(pointer, "/") {
		return nil, false
	}
	var cur any = obj
	for _, part := range strings.Split(pointer[1:], "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[part]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, cur != nil
}
