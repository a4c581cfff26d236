package exporter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/eventide/eventide/pkg/kube/event"
)

// ReadEvents reads recorded events for route-test and replay, in any of the
// shapes a team has at hand, and calls fn for each, in order:
//
//   - JSON lines of eventide's whole-event JSON: what a receiver with no
//     layout sends and the file receiver writes; the involvedObject may
//     carry labels, annotations, ownerReferences, workload and deleted;
//   - `kubectl get events -o json` (a List, or an EventList);
//   - the dead-letter file (records whose "event" is replayed);
//   - YAML, one event per document or a list of them, for hand-written
//     cases.
//
// An event with no enrichment routes as if its object had no labels. The
// error names the document (1-based) that failed.
func ReadEvents(r io.Reader, fn func(*event.EnhancedEvent) error) error {
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	for doc := 1; ; doc++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("document %d: %w", doc, err)
		}
		if err := eachEvent(raw, fn); err != nil {
			return fmt.Errorf("document %d: %w", doc, err)
		}
	}
}

// eachEvent calls fn for the event, list items or dead-letter record raw holds.
func eachEvent(raw json.RawMessage, fn func(*event.EnhancedEvent) error) error {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		return nil // an empty YAML document
	case raw[0] == '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return err
		}
		return eachItem(items, fn)
	case raw[0] != '{':
		return errors.New("not an event, a list of events or a dead-letter record")
	}
	var shape struct {
		Kind     string            `json:"kind"`
		Items    []json.RawMessage `json:"items"`
		Event    json.RawMessage   `json:"event"`
		Receiver *string           `json:"receiver"`
	}
	if err := json.Unmarshal(raw, &shape); err != nil {
		return err
	}
	switch {
	case shape.Kind == "List" || shape.Kind == "EventList":
		return eachItem(shape.Items, fn)
	case shape.Receiver != nil && len(shape.Event) > 0:
		return eachEvent(shape.Event, fn) // a dead-letter record
	}
	ev, err := decodeEvent(raw)
	if err != nil {
		return err
	}
	return fn(ev)
}

func eachItem(items []json.RawMessage, fn func(*event.EnhancedEvent) error) error {
	for i, item := range items {
		ev, err := decodeEvent(item)
		if err != nil {
			return fmt.Errorf("item %d: %w", i, err)
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	return nil
}

// decodeEvent reads one event: a core/v1 Event whose involvedObject may
// carry eventide's enrichment.
func decodeEvent(raw json.RawMessage) (*event.EnhancedEvent, error) {
	var ev event.EnhancedEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	if ev.Kind != "" && ev.Kind != "Event" {
		return nil, fmt.Errorf("a %s, not an Event", ev.Kind)
	}
	if ev.Name == "" && ev.Reason == "" && ev.InvolvedObject.Kind == "" {
		return nil, errors.New("not an event: no metadata.name, reason or involvedObject")
	}
	// The enriched reference shadows the Event's own in JSON; keep both alike.
	ev.Event.InvolvedObject = ev.InvolvedObject.ObjectReference
	ev.ManagedFields = nil
	return &ev, nil
}
