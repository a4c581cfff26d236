package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Checkpoints are, per receiver name and watch stream, the resourceVersion
// up to which that receiver has everything (see pkg/exporter).
type Checkpoints map[string]map[string]uint64

// The ConfigMap's keys: checkpoints.json holds the Checkpoints as JSON;
// format is the version of that layout. Version 0 (eventide before the
// format key) had the same JSON and no format key.
const (
	checkpointKey    = "checkpoints.json"
	formatKey        = "format"
	checkpointFormat = "1"
)

// CheckpointStore keeps checkpoints in a ConfigMap in eventide's own
// namespace, so a restarted pod or a new leader resumes from them.
type CheckpointStore struct {
	cs              kubernetes.Interface
	Namespace, Name string
	exists          bool // the ConfigMap is there: Save updates it
}

// NewCheckpointStore stores in ConfigMap namespace/name.
func NewCheckpointStore(cfg *rest.Config, namespace, name string) (*CheckpointStore, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &CheckpointStore{cs: cs, Namespace: namespace, Name: name}, nil
}

// Load reads the checkpoints; none stored is not an error.
func (s *CheckpointStore) Load(ctx context.Context) (Checkpoints, error) {
	cm, err := s.cs.CoreV1().ConfigMaps(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Checkpoints{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoints %s/%s: %w", s.Namespace, s.Name, err)
	}
	s.exists = true
	cps, err := decodeCheckpoints(cm.Data)
	if err != nil {
		return nil, fmt.Errorf("checkpoints %s/%s: %w", s.Namespace, s.Name, err)
	}
	return cps, nil
}

// decodeCheckpoints reads the ConfigMap's data in format 0 or 1.
func decodeCheckpoints(data map[string]string) (Checkpoints, error) {
	switch v := data[formatKey]; v {
	case "", checkpointFormat:
	default:
		return nil, fmt.Errorf("format %q was written by another eventide version (this one reads %q); delete the ConfigMap to start afresh", v, checkpointFormat)
	}
	cps := Checkpoints{}
	if raw := data[checkpointKey]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &cps); err != nil {
			return nil, err
		}
	}
	return cps, nil
}

// Save writes the checkpoints (one request; creates the ConfigMap the first
// time).
func (s *CheckpointStore) Save(ctx context.Context, cps Checkpoints) error {
	b, err := json.Marshal(cps)
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace,
			Labels: map[string]string{"app.kubernetes.io/name": "eventide", "app.kubernetes.io/component": "checkpoint"}},
		Data: map[string]string{formatKey: checkpointFormat, checkpointKey: string(b)},
	}
	// Update without a resourceVersion: eventide (the leader) is the only
	// writer. One request per save; a ConfigMap deleted meanwhile is made again.
	if s.exists {
		_, err = s.cs.CoreV1().ConfigMaps(s.Namespace).Update(ctx, cm, metav1.UpdateOptions{})
		s.exists = !apierrors.IsNotFound(err)
	}
	if !s.exists {
		_, err = s.cs.CoreV1().ConfigMaps(s.Namespace).Create(ctx, cm, metav1.CreateOptions{})
		s.exists = err == nil || apierrors.IsAlreadyExists(err)
	}
	if err != nil {
		return fmt.Errorf("write checkpoints %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}

// OwnNamespace is the namespace eventide runs in: $POD_NAMESPACE, the
// in-cluster service account's, the kubeconfig context's, else "default".
func OwnNamespace(kubeconfig string) string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
		if ns := strings.TrimSpace(string(b)); ns != "" {
			return ns
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	if ns, _, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).Namespace(); err == nil && ns != "" {
		return ns
	}
	return "default"
}
