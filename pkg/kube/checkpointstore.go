package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

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
	cm *configMapStore
}

// NewCheckpointStore stores in ConfigMap namespace/name.
func NewCheckpointStore(cfg *rest.Config, namespace, name string) (*CheckpointStore, error) {
	cm, err := newConfigMapStore(cfg, namespace, name, "checkpoint")
	if err != nil {
		return nil, err
	}
	return &CheckpointStore{cm: cm}, nil
}

// Load reads the checkpoints; none stored is not an error.
func (s *CheckpointStore) Load(ctx context.Context) (Checkpoints, error) {
	data, err := s.cm.read(ctx)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	cps, err := decodeCheckpoints(data)
	if err != nil {
		return nil, fmt.Errorf("checkpoints %s: %w", s.cm, err)
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
	if err := s.cm.write(ctx, map[string]string{formatKey: checkpointFormat, checkpointKey: string(b)}); err != nil {
		return fmt.Errorf("write checkpoints: %w", err)
	}
	return nil
}

// UID identifies the ConfigMap read or written last ("" before either):
// a local copy of the checkpoints is only worth as much as its match.
func (s *CheckpointStore) UID() string { return s.cm.UID() }

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
