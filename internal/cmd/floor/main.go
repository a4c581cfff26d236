// Command floor is the least an event exporter can do, for the benchmark to
// compare eventide's CPU against: one protobuf watch of Events in one
// namespace, and one JSON POST per new event or new occurrence. No
// enrichment, routing, templates, queues, retries or checkpoints.
//
// It takes eventide's flags so the benchmark starts it the same way:
// -conf names a JSON file {"namespace": "...", "url": "..."}, and
// -metrics-address serves /readyz once the watch runs.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/eventide/eventide/pkg/kube"
)

func main() {
	conf := flag.String("conf", "", "JSON file: namespace and url")
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig")
	addr := flag.String("metrics-address", "127.0.0.1:0", "serves /readyz")
	flag.Parse()
	if err := run(*conf, *kubeconfig, *addr); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(conf, kubeconfig, addr string) error {
	var c struct{ Namespace, URL string }
	b, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(kube.ProtobufConfig(cfg))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	list, err := cs.CoreV1().Events(c.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	go func() {
		mux := http.NewServeMux()
		mux.HandleFunc("/readyz", func(http.ResponseWriter, *http.Request) {})
		_ = http.ListenAndServe(addr, mux)
	}()
	rv := list.ResourceVersion
	last := map[string]int32{} // event name -> count, to tell a new occurrence
	for ctx.Err() == nil {
		w, err := cs.CoreV1().Events(c.Namespace).Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
		if err != nil {
			return err
		}
		for e := range w.ResultChan() {
			ev, ok := e.Object.(*corev1.Event)
			if !ok || (e.Type != watch.Added && e.Type != watch.Modified) {
				continue
			}
			rv = ev.ResourceVersion
			if last[ev.Name] == ev.Count {
				continue
			}
			last[ev.Name] = ev.Count
			post(c.URL, ev)
		}
	}
	return nil
}

// client is the floor's one HTTP client, with a timeout per POST.
var client = &http.Client{Timeout: 10 * time.Second}

func post(url string, ev *corev1.Event) {
	body, _ := json.Marshal(map[string]any{"name": ev.Name, "reason": ev.Reason, "count": ev.Count})
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
