// Command demo runs eventide on a local control plane (kube-apiserver + etcd
// built by hack/build-control-plane.sh) and feeds it a stream of realistic
// events — BackOff, FailedScheduling, Unhealthy, OOMKilling, NodeNotReady,
// and their repeats — so its routed, templated output can be watched on
// stdout. Ctrl-C stops it.
//
//	go run ./internal/cmd/demo [-duration 30s] [-config FILE]
package main

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

//go:embed demo.yaml
var demoConfig []byte

func main() {
	duration := flag.Duration("duration", 0, "stop after this long (0: run until Ctrl-C)")
	config := flag.String("config", "", "eventide configuration (default: the built-in demo routes)")
	interval := flag.Duration("interval", 400*time.Millisecond, "time between events")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *config, *interval, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, config string, interval, duration time.Duration) error {
	dir, err := os.MkdirTemp("", "eventide-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintln(os.Stderr, "demo: starting kube-apiserver and etcd on 127.0.0.1 …")
	cp, cluster, stopCluster, err := kubeenv.LocalCluster(ctx)
	if err != nil {
		return err
	}
	defer stopCluster()
	cs := cluster.CS
	var pods []*corev1.Pod
	for _, w := range []struct{ ns, name, owner string }{
		{"shop", "checkout", "payments"}, {"shop", "web", "storefront"}, {"batch", "report", ""},
	} {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, w.ns, metav1.GetOptions{}); err != nil {
			if err := cluster.CreateNamespace(ctx, w.ns); err != nil {
				return err
			}
		}
		labels := map[string]string{}
		if w.owner != "" {
			labels["owner"] = w.owner
		}
		wl, err := cluster.CreateWorkload(ctx, w.ns, w.name, 2, labels)
		if err != nil {
			return err
		}
		pods = append(pods, wl.Pods...)
	}
	node, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{"owner": "platform"}}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}

	if config == "" {
		config = filepath.Join(dir, "demo.yaml")
		if err := os.WriteFile(config, demoConfig, 0o600); err != nil {
			return err
		}
	}
	fmt.Fprintln(os.Stderr, "demo: building and starting eventide …")
	bin, err := testenv.BuildEventide(dir)
	if err != nil {
		return err
	}
	proc, err := testenv.StartEventide(ctx, bin, config, cp.ExporterKubeconfig, os.Stdout, os.Stderr, "-web-address", "127.0.0.1:2113")
	if err != nil {
		return err
	}
	defer proc.Stop()
	fmt.Fprintf(os.Stderr, "demo: eventide is watching (status page on %s, metrics on %s/metrics); events follow, Ctrl-C stops\n", proc.WebURL, proc.MetricsURL)

	kinds := []func(i int) *corev1.Event{
		func(i int) *corev1.Event {
			return kubeenv.PodEvent(pods[i%len(pods)], "", "Warning", "BackOff", "Back-off restarting failed container app in pod")
		},
		func(i int) *corev1.Event {
			ev := kubeenv.PodEvent(pods[i%len(pods)], "", "Warning", "FailedScheduling", "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.")
			ev.Source = corev1.EventSource{Component: "default-scheduler"}
			return ev
		},
		func(i int) *corev1.Event {
			return kubeenv.PodEvent(pods[i%len(pods)], "", "Warning", "Unhealthy", "Readiness probe failed: Get \"http://10.0.0.7:8080/ready\": context deadline exceeded")
		},
		func(i int) *corev1.Event {
			return kubeenv.PodEvent(pods[i%len(pods)], "", "Normal", "Pulled", "Container image \"registry.example/app:1\" already present on machine")
		},
		func(i int) *corev1.Event {
			ev := nodeEvent(node, "Warning", "OOMKilling", "Memory cgroup out of memory: Killed process 4242 (app) total-vm:1024000kB")
			ev.Source = corev1.EventSource{Component: "kernel-monitor", Host: "node-1"}
			return ev
		},
		func(i int) *corev1.Event {
			ev := nodeEvent(node, "Normal", "NodeNotReady", "Node node-1 status is now: NodeNotReady")
			ev.Source = corev1.EventSource{Component: "node-controller"}
			return ev
		},
	}
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	var sent []*corev1.Event
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		// A third of the time, the same thing happens again: the existing
		// Event's count goes up, as kubelet does it.
		if len(sent) > 0 && rand.IntN(3) == 0 {
			if _, err := cluster.Repeat(ctx, sent[rand.IntN(len(sent))]); err != nil && ctx.Err() == nil {
				return err
			}
			continue
		}
		ev := kinds[rand.IntN(len(kinds))](i)
		ev.Name = fmt.Sprintf("%s.%x", ev.InvolvedObject.Name, time.Now().UnixNano())
		created, err := cs.CoreV1().Events(ev.Namespace).Create(ctx, ev, metav1.CreateOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		sent = append(sent, created)
	}
}

func nodeEvent(node *corev1.Node, typ, reason, msg string) *corev1.Event {
	now := metav1.NewTime(time.Now())
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: metav1.NamespaceDefault},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: node.Name, UID: node.UID, APIVersion: "v1"},
		Type:           typ, Reason: reason, Message: msg,
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
}
