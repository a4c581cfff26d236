// Package event holds the enriched event that routes match, templates see
// and sinks deliver. It is a leaf: it links the core/v1 types but not
// client-go, so sink packages stay small.
package event

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EnhancedEvent is a core/v1 Event plus what eventide knows about the object
// it is about. It is what routes match and what templates see; its JSON is the
// payload when a receiver has no layout. Treat it as read-only once built:
// every receiver sees the same value.
type EnhancedEvent struct {
	corev1.Event `json:",inline"`
	// ClusterName is copied from the configuration's clusterName.
	ClusterName string `json:"clusterName"`
	// InvolvedObject shadows Event.InvolvedObject with the enriched reference.
	InvolvedObject EnhancedObjectReference `json:"involvedObject"`
	// InitialList is true for events that already existed when the watch
	// started (its first list), as opposed to ones seen happen.
	InitialList bool `json:"-"`
	// Received is when the watch handed the event on.
	Received time.Time `json:"-"`
	// EventID names this occurrence: the Event's UID and its count, the
	// same on every re-send ("" without a UID: a hand-written event).
	// Search _id, BigQuery insertId and the whole-event JSON use it.
	EventID string `json:"eventID,omitempty"`
	// Replay is set by `eventide replay` (one value per run): a replayed
	// event is a new delivery, so receivers' idempotency keys change.
	Replay string `json:"-"`
	// Group is set on the notification of a grouping receiver: the group
	// this event is the latest of. Nil otherwise.
	Group *Group `json:"group,omitempty"`
	// Class is what the event means (class.go: CrashLoop, Unschedulable,
	// …, Other) and ClassDetail its detail where the class has one. They
	// are not in the whole-event JSON, which stays what it was; a layout
	// adds them.
	Class       string `json:"-"`
	ClassDetail string `json:"-"`
	// Trace is the event's entry in the status page's recent events
	// (pkg/exporter/recent), where receivers report what became of it;
	// 0: none (offline commands, events restored from a spool).
	Trace uint64 `json:"-"`
	// Extra is the configuration's extraFields, the same map on every
	// event (read-only); in the whole-event JSON only when set.
	Extra map[string]string `json:"extra,omitempty"`
}

// Group is what a grouped notification says about its group; templates
// read it as .Group, and a receiver without a layout sends it as "group".
type Group struct {
	// Key is the values of the receiver's group.by, joined by "/".
	Key string `json:"key"`
	// Status is why this notification goes out: new (the group's first),
	// update (more events: the same message, edited where the service
	// allows), repeat (a fresh message after repeatInterval) or quiet (the
	// group ended: no event for expireAfter).
	Status string `json:"status"`
	// Count is the occurrences since the group began: the sum of each
	// event's count increase, not of its cumulative count.
	Count int64 `json:"count"`
	// FirstSeen and LastSeen bound the occurrences in the group.
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	// Objects are the distinct involved objects ("Pod/shop/api-1"), at
	// most MaxGroupObjects; ObjectCount counts them, up to ten times that.
	Objects     []string `json:"objects"`
	ObjectCount int      `json:"objectCount"`
	// Events are the group's latest events, oldest first (not in JSON).
	Events []*EnhancedEvent `json:"-"`
}

// MaxGroupObjects bounds Group.Objects.
const MaxGroupObjects = 20

// EnhancedObjectReference is the event's involvedObject with the metadata of
// the object it points to.
type EnhancedObjectReference struct {
	corev1.ObjectReference `json:",inline"`
	Labels                 map[string]string       `json:"labels,omitempty"`
	Annotations            map[string]string       `json:"annotations,omitempty"`
	OwnerReferences        []metav1.OwnerReference `json:"ownerReferences,omitempty"`
	// Workload is the top controlling owner (Pod -> ReplicaSet -> Deployment
	// gives the Deployment); nil when the object has no controller or
	// enrichment is off.
	Workload *WorkloadReference `json:"workload,omitempty"`
	// Deleted is true when the object no longer exists (or was replaced by a
	// new object of the same name).
	Deleted bool `json:"deleted"`
	// Services are the Services that select the pod (for a workload: its
	// pods), sorted; set only with enrich.services on.
	Services []string `json:"services,omitempty"`
}

// WorkloadReference names the top controlling owner of an involved object.
type WorkloadReference struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	UID        string `json:"uid,omitempty"`
}

// NewEnhancedEvent wraps ev with no enrichment. Its Count is the
// effective occurrence count (EventCount): events.k8s.io/v1 producers
// leave count at 0 and count in series.count, and templates, layouts and
// the whole-event JSON read .Count.
func NewEnhancedEvent(ev *corev1.Event, clusterName string) *EnhancedEvent {
	e := &EnhancedEvent{Event: *ev, ClusterName: clusterName}
	e.Event.ManagedFields = nil
	e.Count = EventCount(ev)
	e.EventID = OccurrenceID(ev)
	e.Class, e.ClassDetail = Classify(ev)
	e.InvolvedObject.ObjectReference = ev.InvolvedObject
	return e
}

// GetCount is how many times the event happened, from count or, for
// events.k8s.io/v1 producers, series.count; at least 1.
func (e *EnhancedEvent) GetCount() int32 {
	return EventCount(&e.Event)
}

// GetLastTime is the time of the latest occurrence: lastTimestamp, else
// series.lastObservedTime, else eventTime, else firstTimestamp, else creation.
func (e *EnhancedEvent) GetLastTime() time.Time {
	return LastOccurrence(&e.Event)
}

// GetFirstTime is firstTimestamp, else eventTime (the old tool's "timestamp").
func (e *EnhancedEvent) GetFirstTime() time.Time {
	if !e.FirstTimestamp.IsZero() {
		return e.FirstTimestamp.Time
	}
	if !e.EventTime.IsZero() {
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// GetTimestampMs is GetFirstTime in Unix milliseconds (kept from the old tool).
func (e *EnhancedEvent) GetTimestampMs() int64 {
	return e.GetFirstTime().UnixMilli()
}

// GetTimestampISO8601 is GetFirstTime as 2006-01-02T15:04:05.000Z (kept from
// the old tool).
func (e *EnhancedEvent) GetTimestampISO8601() string {
	return e.GetFirstTime().UTC().Format("2006-01-02T15:04:05.000Z")
}

// OccurrenceID is "<uid>-<count>" of ev, "" when it has no UID.
func OccurrenceID(ev *corev1.Event) string {
	if ev.UID == "" {
		return ""
	}
	return string(ev.UID) + "-" + strconv.Itoa(int(EventCount(ev)))
}

// EventCount is the occurrence count of ev in either API shape; at least 1.
func EventCount(ev *corev1.Event) int32 {
	c := ev.Count
	if ev.Series != nil && ev.Series.Count > c {
		c = ev.Series.Count
	}
	if c < 1 {
		c = 1
	}
	return c
}

// LastOccurrence is the time ev last happened, in either API shape.
func LastOccurrence(ev *corev1.Event) time.Time {
	t := ev.LastTimestamp.Time
	if ev.Series != nil && ev.Series.LastObservedTime.Time.After(t) {
		t = ev.Series.LastObservedTime.Time
	}
	if t.IsZero() {
		t = ev.EventTime.Time
	}
	if t.IsZero() {
		t = ev.FirstTimestamp.Time
	}
	if t.IsZero() {
		t = ev.CreationTimestamp.Time
	}
	return t
}

// Occurrence is what tells one occurrence of an event from the next, in
// either API shape: the count, the last timestamp, the series and the event
// time. The event watch keeps only this per stored Event.
type Occurrence struct {
	Count, SeriesCount int32
	HasSeries          bool
	// Unix microseconds (MicroTime's resolution).
	Last, SeriesLast, EventTime int64
}

// OccurrenceOf is ev's Occurrence.
func OccurrenceOf(ev *corev1.Event) Occurrence {
	o := Occurrence{Count: ev.Count, Last: ev.LastTimestamp.UnixMicro(), EventTime: ev.EventTime.UnixMicro()}
	if ev.Series != nil {
		o.HasSeries, o.SeriesCount, o.SeriesLast = true, ev.Series.Count, ev.Series.LastObservedTime.UnixMicro()
	}
	return o
}

// DeDot returns a copy of e whose label and annotation keys have "." replaced
// by "_", for stores (Elasticsearch) that read dots as object paths.
func (e *EnhancedEvent) DeDot() *EnhancedEvent {
	c := *e
	c.Labels = deDotMap(e.Labels)
	c.Annotations = deDotMap(e.Annotations)
	c.InvolvedObject.Labels = deDotMap(e.InvolvedObject.Labels)
	c.InvolvedObject.Annotations = deDotMap(e.InvolvedObject.Annotations)
	return &c
}

func deDotMap(in map[string]string) map[string]string {
	if in == nil {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[strings.ReplaceAll(k, ".", "_")] = v
	}
	return out
}

// ToJSON is the event's JSON encoding, the payload of receivers with no layout.
func (e *EnhancedEvent) ToJSON() ([]byte, error) {
	return json.Marshal(e)
}
