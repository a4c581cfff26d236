package exporter

// Reload rules.
//
// A reload applies a new, already validated configuration to the running
// engine. Routes, receivers, templates, logLevel, clusterName and
// extraFields apply live; every other top-level key only applies at start: a change to one is
// reported (restart required) and its running value kept, and the rest of
// the file applies.
//
// Receivers are matched by name:
//   - unchanged (same YAML): kept as they are, with their queue, spool,
//     events in flight and checkpoint;
//   - changed: the worker takes the new sink and delivery settings between
//     two batches (a retry backoff is cut short), keeping its queue, spool
//     and checkpoint;
//   - removed: no new events; it delivers what it holds within the drain
//     timeout, then its checkpoint entry is dropped;
//   - added: starts from the current watch position.
//
// The route tree and the receiver set change together between two events
// (Pipeline.Swap), so each event goes to the receivers of one
// configuration, old or new.

import (
	"reflect"
	"strings"

	"github.com/eventide/eventide/pkg/exporter/config"
	"github.com/eventide/eventide/pkg/exporter/runtime"
)

// running is the part of the engine that delivers, which a reload changes.
type running struct {
	pipeline *Pipeline
	runtime  *runtime.Runtime
	tracker  *Tracker // nil when checkpoints are off
}

// liveKeys are the top-level keys a reload applies.
var liveKeys = map[string]bool{"route": true, "receivers": true, "logLevel": true, "clusterName": true, "extraFields": true, "heartbeat": true}

// restartOnlyChanges lists the top-level keys that differ between running
// and next and only apply at start; next gets running's values for them.
func restartOnlyChanges(running, next *config.Config) []string {
	rv, nv := reflect.ValueOf(running).Elem(), reflect.ValueOf(next).Elem()
	var keys []string
	for i := 0; i < rv.NumField(); i++ {
		key, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("yaml"), ",")
		if liveKeys[key] || reflect.DeepEqual(rv.Field(i).Interface(), nv.Field(i).Interface()) {
			continue
		}
		keys = append(keys, key)
		nv.Field(i).Set(rv.Field(i))
	}
	return keys
}

// Reload applies next, a loaded and checked configuration, by the rules
// above. It returns the restart-only keys that changed. On error nothing
// changed and next is closed.
func (e *Engine) Reload(next *config.Loaded) (restartKeys []string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	restartKeys = restartOnlyChanges(&e.loaded.Config, &next.Config)
	if e.live == nil {
		// Not delivering (a standby, or delivery starting or stopping): the
		// next delivery starts with next. Sinks no delivery took are closed.
		if !e.deliveryOwnsSinks {
			e.loaded.Close()
		}
		e.loaded, e.deliveryOwnsSinks = next, false
		e.m.ConfigReceivers.Set(float64(len(next.Receivers)))
		return restartKeys, nil
	}
	live := e.live
	running := make(map[string]runtime.Receiver, len(e.loaded.Receivers))
	for _, r := range e.loaded.Receivers {
		running[r.Name] = r
	}
	var (
		added            []*runtime.Prepared
		changed          []runtime.Receiver
		effective        []runtime.Receiver
		unchangedBuilt   []runtime.Receiver // built by the load, not needed
		addedNames, kept []string
	)
	for _, r := range next.Receivers {
		old, ok := running[r.Name]
		switch {
		case ok && old.Fingerprint == r.Fingerprint:
			unchangedBuilt = append(unchangedBuilt, r)
			effective = append(effective, old)
			kept = append(kept, r.Name)
		case ok:
			changed = append(changed, r)
			effective = append(effective, r)
		default:
			w, err := live.runtime.Prepare(r)
			if err != nil {
				for _, w := range added {
					w.Discard()
				}
				next.Close()
				return nil, err
			}
			added = append(added, w)
			addedNames = append(addedNames, r.Name)
			effective = append(effective, r)
		}
		delete(running, r.Name)
	}
	for _, r := range unchangedBuilt {
		_ = r.Sink.Close()
	}
	var removed, changedNames []string
	for name := range running {
		removed = append(removed, name)
	}
	for _, r := range changed {
		changedNames = append(changedNames, r.Name)
	}
	live.pipeline.Swap(next, func() {
		for _, w := range added {
			if live.tracker != nil {
				live.tracker.AddReceiver(w.Name())
			}
			e.m.CheckpointLag.WithLabelValues(w.Name())
			live.runtime.Add(w)
		}
		for _, r := range changed {
			live.runtime.Replace(r)
		}
		for _, name := range removed {
			live.runtime.Remove(name, e.drain, func() {
				e.m.CheckpointLag.DeleteLabelValues(name)
				if live.tracker != nil {
					live.tracker.RemoveReceiver(name)
				}
			})
		}
	})
	e.loaded = &config.Loaded{Config: next.Config, Tree: next.Tree, Mute: next.Mute, Receivers: effective, Warnings: next.Warnings}
	e.m.ConfigReceivers.Set(float64(len(effective)))
	e.log.Info().Strs("added", addedNames).Strs("changed", changedNames).Strs("removed", removed).
		Int("unchanged", len(kept)).Msg("configuration reloaded")
	return restartKeys, nil
}
