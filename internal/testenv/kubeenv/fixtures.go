package kubeenv

import (
	"context"
	"fmt"
	"os"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// Cluster creates objects and events through the API, as kubelet, the
// scheduler and controllers would.
type Cluster struct {
	CS kubernetes.Interface
}

// CreateNamespace creates ns and its default ServiceAccount (no controller
// manager runs to do it), so pods can be created in it.
func (c *Cluster) CreateNamespace(ctx context.Context, ns string) error {
	if _, err := c.CS.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	_, err := c.CS.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	return err
}

// Workload is a Deployment with one ReplicaSet and its pods, linked by
// controller owner references as the controllers would link them.
type Workload struct {
	Deployment *appsv1.Deployment
	ReplicaSet *appsv1.ReplicaSet
	Pods       []*corev1.Pod
}

// CreateWorkload creates Deployment name, ReplicaSet name-abc and n pods
// name-abc-<i>, all carrying labels.
func (c *Cluster) CreateWorkload(ctx context.Context, ns, name string, n int, labels map[string]string) (*Workload, error) {
	sel := map[string]string{"app": name}
	podLabels := map[string]string{"app": name}
	for k, v := range labels {
		podLabels[k] = v
	}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}},
	}
	d, err := c.CS.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: podLabels},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(int32(n)), Selector: &metav1.LabelSelector{MatchLabels: sel}, Template: tmpl},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create deployment: %w", err)
	}
	w := &Workload{Deployment: d}
	w.ReplicaSet, err = c.CS.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-abc", Labels: podLabels, OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: ptr.To(true)},
		}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(int32(n)), Selector: &metav1.LabelSelector{MatchLabels: sel}, Template: tmpl},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create replicaset: %w", err)
	}
	for i := 0; i < n; i++ {
		p, err := c.CS.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: fmt.Sprintf("%s-abc-%d", name, i), Labels: podLabels,
				Annotations: map[string]string{"team.example/pager": "on"},
				OwnerReferences: []metav1.OwnerReference{
					{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: w.ReplicaSet.Name, UID: w.ReplicaSet.UID, Controller: ptr.To(true)},
				},
			},
			Spec: tmpl.Spec,
		}, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("create pod: %w", err)
		}
		w.Pods = append(w.Pods, p)
	}
	return w, nil
}

// PodEvent builds a core/v1 Event about pod, as kubelet reports one.
func PodEvent(pod *corev1.Pod, name, typ, reason, message string) *corev1.Event {
	now := metav1.NewTime(time.Now())
	return &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: "v1", Kind: "Pod", Name: pod.Name, Namespace: pod.Namespace,
			UID: pod.UID, ResourceVersion: pod.ResourceVersion, FieldPath: "spec.containers{app}",
		},
		Type: typ, Reason: reason, Message: message,
		Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
		ReportingController: "kubelet", ReportingInstance: "node-1",
	}
}

// Repeat bumps an event's count and lastTimestamp, as kubelet does when the
// same thing happens again.
func (c *Cluster) Repeat(ctx context.Context, ev *corev1.Event) (*corev1.Event, error) {
	cur, err := c.CS.CoreV1().Events(ev.Namespace).Get(ctx, ev.Name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	cur.Count++
	cur.LastTimestamp = metav1.NewTime(time.Now())
	return c.CS.CoreV1().Events(ev.Namespace).Update(ctx, cur, metav1.UpdateOptions{})
}

// HookConfig is an eventide configuration that watches namespace and sends
// every event to one webhook receiver, "hook", at endpoint. layout (YAML
// indented for the layout key, may be empty) and extra (receiver keys such
// as delivery, may be empty) are spliced in.
func HookConfig(namespace, endpoint, layout, extra string) string {
	if layout != "" {
		layout = "      layout:\n" + layout
	}
	return fmt.Sprintf(`namespace: %s
route:
  routes:
    - match:
        - receiver: hook
receivers:
  - name: hook
    webhook:
      endpoint: %s
%s%s`, namespace, endpoint, layout, extra)
}

// LocalCluster starts a control plane in a new temporary folder and
// returns it with an admin Cluster; stop removes everything.
func LocalCluster(ctx context.Context) (cp *ControlPlane, c *Cluster, stop func(), err error) {
	dir, err := os.MkdirTemp("", "eventide-")
	if err != nil {
		return nil, nil, nil, err
	}
	cp, err = StartControlPlane(ctx, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, nil, err
	}
	stop = func() { cp.Stop(); os.RemoveAll(dir) }
	cs, err := kubernetes.NewForConfig(cp.Admin)
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	return cp, &Cluster{CS: cs}, stop, nil
}
