package simulate_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
	"github.com/kubectl-verify/kubectl-verify/internal/ocireg"
	kpol "github.com/kubectl-verify/kubectl-verify/policyload/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate"
	"github.com/kubectl-verify/kubectl-verify/simulate/engine/kyverno"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify"
	"github.com/kubectl-verify/kubectl-verify/simulate/verify/verifytest"
)

// BenchmarkSimulatePods replays 2,000 Pods over 200 images, half of them signed, under one
// Kyverno key policy: cost should follow unique images (each verified once per run), not
// Pods. Each iteration is a fresh run (fresh caches); requests/image is what the registry
// served per unique image.
func BenchmarkSimulatePods(b *testing.B) {
	for _, referrers := range []bool{false, true} {
		b.Run(fmt.Sprintf("referrers=%v", referrers), func(b *testing.B) { benchmarkSimulatePods(b, referrers, 2000, 200) })
	}
}

func benchmarkSimulatePods(b *testing.B, referrers bool, pods, images int) {
	var requests atomic.Int64
	inner := ocireg.New(referrers, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	key, err := verifytest.NewKey()
	if err != nil {
		b.Fatal(err)
	}
	var refs []string
	for i := 0; i < images; i++ {
		ref := fmt.Sprintf("%s/bench/app%d:v1", host, i)
		if _, err := verifytest.Push(ref); err != nil {
			b.Fatal(err)
		}
		if i%2 == 0 {
			if err := verifytest.Sign(ref, key); err != nil {
				b.Fatal(err)
			}
		}
		refs = append(refs, ref)
	}
	policy := fmt.Sprintf(`{"apiVersion":"kyverno.io/v1","kind":"ClusterPolicy","metadata":{"name":"p"},"spec":{"rules":[{"name":"r",
	"match":{"any":[{"resources":{"kinds":["Pod"]}}]},"verifyImages":[{"failureAction":"Enforce","imageReferences":["%s/*"],
	"attestors":[{"entries":[{"keys":{"publicKeys":%q,"rekor":{"ignoreTlog":true},"ctlog":{"ignoreSCT":true}}}]}]}]}]}}`, host, key.PublicPEM)
	p, err := kpol.Parse([]byte(policy), "bench", "default")
	if err != nil {
		b.Fatal(err)
	}
	var docs []string
	for i := 0; i < pods; i++ {
		docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: p%d, namespace: ns%d}\nspec:\n  containers:\n  - {name: a, image: %s}\n", i, i%20, refs[i%len(refs)]))
	}
	objs, err := manifest.Parse([]byte(strings.Join(docs, "---\n")), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	requests.Store(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := verify.NewRegistry("", nil, "bench")
		if err != nil {
			b.Fatal(err)
		}
		rep, _, err := simulate.Run(context.Background(), simulate.Config{
			Kyverno: []*kpol.Policy{p}, KyvernoConfig: kyverno.DefaultConfig(), Resources: objs,
			Verifier: verify.New(r),
		})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Summary.Allowed != pods/2 || rep.Summary.Denied != pods/2 {
			b.Fatalf("allowed %d, denied %d; want %d each", rep.Summary.Allowed, rep.Summary.Denied, pods/2)
		}
	}
	b.ReportMetric(float64(requests.Load())/float64(b.N)/float64(images), "requests/image")
}
