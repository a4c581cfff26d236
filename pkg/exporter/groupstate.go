package exporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/eventide/eventide/pkg/exporter/config"

	"github.com/eventide/eventide/pkg/exporter/grouping"
	"github.com/eventide/eventide/pkg/kube"
)

// groupStates keeps the grouping receivers' state in one ConfigMap
// beside the checkpoints (<checkpoint.name>-groups): loaded at start,
// written whole whenever a receiver saves, so a restart or a new leader
// edits the same messages. Each receiver's state is opaque JSON of
// pkg/exporter/grouping, within an equal share of what the ConfigMap
// holds.
type groupStates struct {
	store *kube.GroupStore

	mu       sync.Mutex
	data     map[string]json.RawMessage // receiver → its state
	grouping map[string]bool            // receivers that group, for the shares
}

// newGroupStates loads the group state; nil when checkpoints are off
// (groups then live in memory only).
func (e *Engine) newGroupStates(ctx context.Context, cfg *config.Config) (*groupStates, error) {
	if !cfg.Checkpoint.On() {
		return nil, nil
	}
	ns := cfg.Checkpoint.Namespace
	if ns == "" {
		ns = e.ownNS
	}
	store, err := kube.NewGroupStore(e.restCfg, ns, cfg.Checkpoint.Name+"-groups")
	if err != nil {
		return nil, fmt.Errorf("cannot build the group state store: %w", err)
	}
	data, err := store.Load(ctx)
	if corrupt := (*kube.CorruptStateError)(nil); errors.As(err, &corrupt) {
		// Unreadable state must not keep eventide from starting (it may
		// not even group any more): keep a copy, start afresh.
		aside, asideErr := store.KeepAside(ctx, corrupt.Data, time.Now())
		e.log.Error().Err(err).Str("keptAs", aside).AnErr("keepAsideError", asideErr).
			Msg("group state unreadable: kept aside, groups start afresh (earlier messages are not edited again)")
		data, err = map[string]json.RawMessage{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the group state: %w", err)
	}
	return &groupStates{store: store, data: data, grouping: map[string]bool{}}, nil
}

// ForReceiver is receiver's Store and what it held at start.
func (g *groupStates) ForReceiver(receiver string) (grouping.Store, []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.grouping[receiver] = true
	return receiverGroups{g: g, name: receiver}, g.data[receiver]
}

type receiverGroups struct {
	g    *groupStates
	name string
}

// Save writes every receiver's state with this one's replaced; one
// write at a time.
func (r receiverGroups) Save(ctx context.Context, states []byte) error {
	r.g.mu.Lock()
	defer r.g.mu.Unlock()
	r.g.data[r.name] = states
	for name := range r.g.data {
		if !r.g.grouping[name] {
			delete(r.g.data, name) // no longer a grouping receiver
		}
	}
	return r.g.store.Save(ctx, r.g.data)
}

// Budget is an equal share of the ConfigMap per grouping receiver.
func (r receiverGroups) Budget() int {
	r.g.mu.Lock()
	defer r.g.mu.Unlock()
	return kube.MaxGroupStoreBytes/max(1, len(r.g.grouping)) - len(r.name) - 8
}
