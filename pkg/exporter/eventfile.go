package exporter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	return ReadRecords(r, func(ev *event.EnhancedEvent, _ string) error { return fn(ev) })
}

// ReadRecords is ReadEvents that also hands fn the receiver a dead-letter
// record names ("" for the other shapes): replay sends a dead letter back
// to that receiver only.
func ReadRecords(r io.Reader, fn func(ev *event.EnhancedEvent, receiver string) error) error {
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	for doc := 1; ; doc++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("document %d: %w", doc, err)
		}
		if err := eachEvent(raw, "", fn); err != nil {
			return fmt.Errorf("document %d: %w", doc, err)
		}
	}
}

// eachEvent calls fn for the event, list items or dead-letter record raw
// holds; receiver is the dead-letter record's.
func eachEvent(raw json.RawMessage, receiver string, fn func(*event.EnhancedEvent, string) error) error {
	raw = bytes.TrimSpace(raw)
	if err := checkNesting(raw); err != nil {
		return err
	}
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
		return eachEvent(shape.Event, *shape.Receiver, fn) // a dead-letter record
	}
	ev, err := decodeEvent(raw)
	if err != nil {
		return err
	}
	return fn(ev, receiver)
}

func eachItem(items []json.RawMessage, fn func(*event.EnhancedEvent, string) error) error {
	for i, item := range items {
		ev, err := decodeEvent(item)
		if err != nil {
			return fmt.Errorf("item %d: %w", i, err)
		}
		if err := fn(ev, ""); err != nil {
			return err
		}
	}
	return nil
}

// decodeEvent reads one event: a core/v1 Event whose involvedObject may
// carry eventide's enrichment, or an events.k8s.io/v1 Event (note,
// regarding, series), read as the API server shows it through core/v1.
func decodeEvent(raw json.RawMessage) (*event.EnhancedEvent, error) {
	var ev event.EnhancedEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	if strings.HasPrefix(ev.APIVersion, eventsv1.GroupName+"/") {
		var v1 eventsv1.Event
		if err := json.Unmarshal(raw, &v1); err != nil {
			return nil, err
		}
		return event.NewEnhancedEvent(coreFromEventsV1(&v1), ""), nil
	}
	ev.Count = event.EventCount(&ev.Event)
	ev.EventID = event.OccurrenceID(&ev.Event)
	ev.Class, ev.ClassDetail = event.Classify(&ev.Event)
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

// coreFromEventsV1 is e as the API server serves it through core/v1.
func coreFromEventsV1(e *eventsv1.Event) *corev1.Event {
	out := &corev1.Event{
		TypeMeta:            metav1.TypeMeta{Kind: "Event", APIVersion: "v1"},
		ObjectMeta:          e.ObjectMeta,
		InvolvedObject:      e.Regarding,
		Related:             e.Related,
		Reason:              e.Reason,
		Message:             e.Note,
		Type:                e.Type,
		Action:              e.Action,
		EventTime:           e.EventTime,
		ReportingController: e.ReportingController,
		ReportingInstance:   e.ReportingInstance,
		Source:              e.DeprecatedSource,
		FirstTimestamp:      e.DeprecatedFirstTimestamp,
		LastTimestamp:       e.DeprecatedLastTimestamp,
		Count:               e.DeprecatedCount,
	}
	if e.Series != nil {
		out.Series = &corev1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	return out
}

// maxEventNesting bounds how deep a recorded event's JSON nests: a real
// event is a few levels deep; a forged one 5 000 deep took seconds.
const maxEventNesting = 64

// checkNesting refuses JSON nested deeper than maxEventNesting, in one
// pass over the bytes.
func checkNesting(raw []byte) error {
	depth, inString, escaped := 0, false, false
	for _, c := range raw {
		switch {
		case escaped:
			escaped = false
		case inString:
			escaped = c == '\\'
			inString = c != '"' || escaped
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > maxEventNesting {
				return fmt.Errorf("nested more than %d levels deep: not an event", maxEventNesting)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}
