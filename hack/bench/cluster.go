package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// measureCluster creates o.clusterPods Pods (over w's images, in 50 namespaces) in a real
// kube-apiserver and times `kubectl get pods -A -o json` beside `kubectl verify simulate -A`
// with w's policy, which lists the same Pods (paged) and replays the policy on them.
func measureCluster(ctx context.Context, o options, t tools, w *workload, dir string) ([]row, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "cluster: starting kube-apiserver and etcd, creating %d Pods...\n", o.clusterPods)
	ctrllog.SetLogger(logr.Discard())
	env := &envtest.Environment{BinaryAssetsDirectory: filepath.Join(o.root, "hack", "bin")}
	if _, err := env.Start(); err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd from hack/bin (make bench builds them): %w", err)
	}
	defer env.Stop() //nolint:errcheck // best effort at exit
	admin, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, &rest.Config{QPS: 2000, Burst: 4000})
	if err != nil {
		return nil, err
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return nil, err
	}
	kcPath := filepath.Join(dir, "admin.kubeconfig")
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(admin.Config())
	if err != nil {
		return nil, err
	}
	if err := createPods(ctx, cs, o.clusterPods, w.images); err != nil {
		return nil, err
	}

	label := fmt.Sprintf("cluster, %d Pods", o.clusterPods)
	get, err := median(o.repeat, func() (row, error) {
		wall, rss, err := measured(t.cmd(ctx, dir, t.kubectl, "--kubeconfig", kcPath, "get", "pods", "-A", "-o", "json"), io.Discard)
		if err != nil {
			return row{}, fmt.Errorf("kubectl get pods: %w", err)
		}
		return row{workload: label, tool: "kubectl get pods -A -o json", wall: wall, rssKB: rss}, nil
	})
	if err != nil {
		return nil, err
	}
	rows := []row{get}
	for _, args := range [][]string{{"pods"}, {}} {
		tool := "kubectl verify simulate -A"
		if len(args) > 0 {
			tool += " " + args[0]
		}
		r, err := median(o.repeat, func() (row, error) {
			w.proxy.reset(tool)
			cmdArgs := append([]string{"--kubeconfig", kcPath, "simulate", "-A", "--policy", w.policy, "-o", "json", "--fail-on", "never"}, args...)
			wall, rss, err := measured(t.cmd(ctx, dir, t.verify, cmdArgs...), io.Discard)
			if err != nil {
				return row{}, fmt.Errorf("%s: %w", tool, err)
			}
			return row{workload: label, tool: tool, wall: wall, rssKB: rss, requests: w.proxy.count.Load()}, nil
		})
		if err != nil {
			return nil, err
		}
		if len(args) == 0 {
			r.note = "every pod-bearing kind"
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func createPods(ctx context.Context, cs kubernetes.Interface, n int, images []string) error {
	const namespaces = 50
	for i := 0; i < namespaces; i++ {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ns-%d", i)}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	start := time.Now()
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	for i := 0; i < n; i++ {
		g.Go(func() error {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%d", i), Namespace: fmt.Sprintf("ns-%d", i%namespaces),
					Labels: map[string]string{"app": fmt.Sprintf("app-%d", i%len(images))}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: images[i%len(images)]}}},
			}
			_, err := cs.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("creating Pods: %w", err)
	}
	fmt.Fprintf(os.Stderr, "cluster: %d Pods created in %s\n", n, time.Since(start).Round(time.Millisecond))
	return nil
}
