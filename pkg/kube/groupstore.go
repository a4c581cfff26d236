package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/client-go/rest"
)

// GroupStore keeps the group state of grouping receivers (pkg/exporter/
// grouping) in a ConfigMap in eventide's namespace, so a restarted pod or
// a new leader goes on editing the same messages. The state of each
// receiver is opaque JSON here, under its name, in one data key.
type GroupStore struct {
	cm *configMapStore
}

const (
	groupsKey    = "groups.json"
	groupsFormat = "1"
	// MaxGroupStoreBytes is what the stored JSON may take: a ConfigMap
	// holds 1 MiB, keys and metadata included.
	MaxGroupStoreBytes = 900 << 10
)

// NewGroupStore stores in ConfigMap namespace/name.
func NewGroupStore(cfg *rest.Config, namespace, name string) (*GroupStore, error) {
	cm, err := newConfigMapStore(cfg, namespace, name, "groups")
	if err != nil {
		return nil, err
	}
	return &GroupStore{cm: cm}, nil
}

// CorruptStateError is a stored group state that cannot be read: of
// another format, or not JSON. Data is what the ConfigMap held, to keep
// aside.
type CorruptStateError struct {
	Err  error
	Data map[string]string
}

func (e *CorruptStateError) Error() string { return e.Err.Error() }
func (e *CorruptStateError) Unwrap() error { return e.Err }

// Load reads every receiver's state; none stored is not an error. A state
// that cannot be read is a *CorruptStateError.
func (s *GroupStore) Load(ctx context.Context) (map[string]json.RawMessage, error) {
	data, err := s.cm.read(ctx)
	if err != nil {
		return nil, fmt.Errorf("read group state: %w", err)
	}
	switch v := data[formatKey]; v {
	case "", groupsFormat:
	default:
		return nil, &CorruptStateError{Data: data, Err: fmt.Errorf("group state %s: format %q was written by another eventide version (this one reads %q)", s.cm, v, groupsFormat)}
	}
	out := map[string]json.RawMessage{}
	if raw := data[groupsKey]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			return nil, &CorruptStateError{Data: data, Err: fmt.Errorf("group state %s: %w", s.cm, err)}
		}
	}
	return out, nil
}

// KeepAside copies data to a new ConfigMap, <name>-corrupt-<UTC time>,
// before the state is written afresh, and returns its name.
func (s *GroupStore) KeepAside(ctx context.Context, data map[string]string, now time.Time) (string, error) {
	aside := &configMapStore{cs: s.cm.cs, namespace: s.cm.namespace, component: s.cm.component + "-corrupt",
		name: s.cm.name + "-corrupt-" + now.UTC().Format("20060102-150405")}
	if err := aside.write(ctx, data); err != nil {
		return "", err
	}
	return aside.String(), nil
}

// Save writes every receiver's state, refusing more than
// MaxGroupStoreBytes.
func (s *GroupStore) Save(ctx context.Context, states map[string]json.RawMessage) error {
	b, err := json.Marshal(states)
	if err != nil {
		return err
	}
	if len(b) > MaxGroupStoreBytes {
		return fmt.Errorf("group state %s: %d bytes, over the %d a ConfigMap can take", s.cm, len(b), MaxGroupStoreBytes)
	}
	if err := s.cm.write(ctx, map[string]string{formatKey: groupsFormat, groupsKey: string(b)}); err != nil {
		return fmt.Errorf("write group state: %w", err)
	}
	return nil
}
