package simulate_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate"
	"github.com/kubectl-verify/kubectl-verify/simulate/engine/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// BenchmarkSimulatePods replays 2,000 Pods over 10 signed images: cost should follow unique
// images (each verified once per run), not Pods. Each iteration is a fresh run (fresh cache).
func BenchmarkSimulatePods(b *testing.B) {
	reg := verifytest.NewRegistry(false)
	defer reg.Close()
	key, err := verifytest.NewKey()
	if err != nil {
		b.Fatal(err)
	}
	var refs []string
	for i := 0; i < 10; i++ {
		ref := fmt.Sprintf("%s/bench/app%d:v1", reg.Host, i)
		if _, err := verifytest.Push(ref); err != nil {
			b.Fatal(err)
		}
		if err := verifytest.Sign(ref, key); err != nil {
			b.Fatal(err)
		}
		refs = append(refs, ref)
	}
	policy := fmt.Sprintf(`{"apiVersion":"kyverno.io/v1","kind":"ClusterPolicy","metadata":{"name":"p"},"spec":{"rules":[{"name":"r",
	"match":{"any":[{"resources":{"kinds":["Pod"]}}]},"verifyImages":[{"failureAction":"Enforce","imageReferences":["%s/*"],
	"attestors":[{"entries":[{"keys":{"publicKeys":%q,"rekor":{"ignoreTlog":true},"ctlog":{"ignoreSCT":true}}}]}]}]}]}}`, reg.Host, key.PublicPEM)
	p, err := kpol.Parse([]byte(policy), "bench", "default")
	if err != nil {
		b.Fatal(err)
	}
	var docs []string
	for i := 0; i < 2000; i++ {
		docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: p%d, namespace: ns%d}\nspec:\n  containers:\n  - {name: a, image: %s}\n", i, i%20, refs[i%len(refs)]))
	}
	objs, err := manifest.Parse([]byte(strings.Join(docs, "---\n")), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	r, err := verify.NewRegistry("", nil, "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, _, err := simulate.Run(context.Background(), simulate.Config{
			Kyverno: []*kpol.Policy{p}, KyvernoConfig: kyverno.DefaultConfig(), Resources: objs,
			Verifier: verify.New(r),
		})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Summary.Allowed != 2000 {
			b.Fatalf("allowed = %d, want 2000", rep.Summary.Allowed)
		}
	}
}
