package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

const classesConfig = `
namespace: %[1]s
extraFields: {environment: e2e}
enrich: {services: true}
route:
  match:
    - receiver: all
    - preset: pod_backoff
      receiver: backoff
receivers:
  - name: all
    webhook:
      endpoint: %[2]s
      layout:
        name: "{{ .Name }}"
        class: "{{ .Class }}"
        detail: "{{ .ClassDetail }}"
        environment: "{{ .Extra.environment }}"
        services: !json "{{ toJson .InvolvedObject.Services }}"
  - name: backoff
    webhook: {endpoint: %[3]s}
`

// classed is what the test reads of a payload.
type classed struct {
	Name        string   `json:"name"`
	Class       string   `json:"class"`
	Detail      string   `json:"detail"`
	Environment string   `json:"environment"`
	Services    []string `json:"services"`
}

// Events carry their class, the configuration's extraFields and, with
// enrich.services, the Services that select the pod (or a workload's
// pods), as the Services are now: two Services over one pod, one whose
// selector changes mid-stream, a Service without a selector, a pod that
// matches none, and a Deployment's event. A preset routes on the live path.
func TestClassesServicesAndPresets(t *testing.T) {
	ctx := context.Background()
	ns := "e2e-classes"
	if err := cluster.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	w, err := cluster.CreateWorkload(ctx, ns, "checkout", 1, map[string]string{"tier": "web"})
	if err != nil {
		t.Fatal(err)
	}
	lonely, err := cluster.CS.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "lonely", Labels: map[string]string{"app": "lonely"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	service := func(name string, selector map[string]string) *corev1.Service {
		s, err := cluster.CS.CoreV1().Services(ns).Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.ServiceSpec{Selector: selector, Ports: []corev1.ServicePort{{Port: 80}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	service("checkout", map[string]string{"app": "checkout"})
	web := service("web", map[string]string{"tier": "web"})
	service("external", nil)

	all, backoff := testenv.NewRecorder(), testenv.NewRecorder()
	defer all.Close()
	defer backoff.Close()
	startEventide(t, fmt.Sprintf(classesConfig, ns, all.URL, backoff.URL))

	pod := w.Pods[0]
	createEvent(t, kubeenv.PodEvent(pod, "crash", "Warning", "BackOff", "Back-off restarting failed container app in pod "+pod.Name))
	createEvent(t, kubeenv.PodEvent(pod, "pull", "Normal", "BackOff", `Back-off pulling image "registry.example/app:1"`))
	createEvent(t, kubeenv.PodEvent(lonely, "lonely-probe", "Warning", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503"))
	scaled := kubeenv.PodEvent(pod, "scaled", "Normal", "ScalingReplicaSet", "Scaled up replica set checkout-abc from 0 to 1")
	scaled.InvolvedObject = corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "checkout", Namespace: ns, UID: w.Deployment.UID}
	scaled.Source = corev1.EventSource{Component: "deployment-controller"}
	createEvent(t, scaled)

	got := waitClassed(t, all, "crash", "pull", "lonely-probe", "scaled")
	want := map[string]classed{
		"crash":        {Class: "CrashLoop", Services: []string{"checkout", "web"}},
		"pull":         {Class: "ImagePullBackOff", Services: []string{"checkout", "web"}},
		"lonely-probe": {Class: "ProbeFailed", Detail: "readiness"},
		"scaled":       {Class: "Other", Services: []string{"checkout", "web"}},
	}
	for name, w := range want {
		g := got[name]
		if g.Class != w.Class || g.Detail != w.Detail || !slices.Equal(g.Services, w.Services) || g.Environment != "e2e" {
			t.Errorf("%s: %+v, want class %s %q, services %v, environment e2e", name, g, w.Class, w.Detail, w.Services)
		}
	}
	if _, err := backoff.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) >= 2 }); err != nil {
		t.Errorf("preset pod_backoff: %d events, want the crash loop and the (Normal) image-pull back-off", len(backoff.Requests()))
	}

	// The web Service stops selecting the pod: later events say so.
	web.Spec.Selector = map[string]string{"tier": "api"}
	if _, err := cluster.CS.CoreV1().Services(ns).Update(ctx, web, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		name := fmt.Sprint("after-", i)
		createEvent(t, kubeenv.PodEvent(pod, name, "Warning", "BackOff", "Back-off restarting failed container"))
		if s := waitClassed(t, all, name)[name].Services; slices.Equal(s, []string{"checkout"}) {
			break
		} else if i == 20 {
			t.Fatalf("after the selector change, still %v", s)
		}
	}
}

// waitClassed waits until names were delivered to rec, and decodes them.
func waitClassed(t *testing.T, rec *testenv.Recorder, names ...string) map[string]classed {
	t.Helper()
	got := map[string]classed{}
	_, err := rec.WaitFor(waitCtx(t), func(reqs []testenv.Request) bool {
		for _, r := range reqs {
			var c classed
			if json.Unmarshal(r.Body, &c) == nil {
				got[c.Name] = c
			}
		}
		for _, n := range names {
			if _, ok := got[n]; !ok {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("waiting for %v: %v (have %v)", names, err, got)
	}
	return got
}
