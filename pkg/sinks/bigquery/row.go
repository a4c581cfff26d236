package bigquery

import (
	"encoding/json"
	"fmt"
	"time"

	bq "google.golang.org/api/bigquery/v2"

	"github.com/eventide/eventide/pkg/kube/event"
)

// Schema is the table the receiver creates when it is missing and no
// layout is set: one row per occurrence, day-partitioned on time. README
// documents it column by column; keep the two in step.
var Schema = []*bq.TableFieldSchema{
	{Name: "time", Type: "TIMESTAMP", Mode: "REQUIRED", Description: "last occurrence of the event"},
	{Name: "first_time", Type: "TIMESTAMP", Description: "first occurrence"},
	{Name: "cluster", Type: "STRING"},
	{Name: "namespace", Type: "STRING"},
	{Name: "name", Type: "STRING", Description: "the Event object's name"},
	{Name: "uid", Type: "STRING", Description: "the Event object's UID"},
	{Name: "type", Type: "STRING", Description: "Normal or Warning"},
	{Name: "reason", Type: "STRING"},
	{Name: "message", Type: "STRING"},
	{Name: "count", Type: "INTEGER", Description: "occurrences so far"},
	{Name: "source", Type: "STRING", Description: "reporting controller or source component"},
	{Name: "host", Type: "STRING", Description: "reporting instance or source host"},
	{Name: "object_kind", Type: "STRING"},
	{Name: "object_namespace", Type: "STRING"},
	{Name: "object_name", Type: "STRING"},
	{Name: "object_uid", Type: "STRING"},
	{Name: "object_deleted", Type: "BOOLEAN", Description: "the object was gone when the event arrived"},
	{Name: "workload_kind", Type: "STRING"},
	{Name: "workload_name", Type: "STRING"},
	{Name: "labels", Type: "JSON", Description: "the object's labels"},
	{Name: "annotations", Type: "JSON", Description: "the object's annotations"},
	{Name: "event", Type: "JSON", Description: "the whole enriched event"},
}

// defaultRow is ev as a row of Schema. JSON columns are JSON text, as the
// streaming API takes them.
func defaultRow(ev *event.EnhancedEvent) (map[string]bq.JsonValue, error) {
	whole, err := ev.ToJSON()
	if err != nil {
		return nil, err
	}
	labels, err := jsonText(ev.InvolvedObject.Labels)
	if err != nil {
		return nil, err
	}
	annotations, err := jsonText(ev.InvolvedObject.Annotations)
	if err != nil {
		return nil, err
	}
	source, host := ev.ReportingController, ev.ReportingInstance
	if source == "" {
		source = ev.Source.Component
	}
	if host == "" {
		host = ev.Source.Host
	}
	row := map[string]bq.JsonValue{
		"time":             timestamp(ev.GetLastTime()),
		"first_time":       timestamp(ev.GetFirstTime()),
		"cluster":          ev.ClusterName,
		"namespace":        ev.Namespace,
		"name":             ev.Name,
		"uid":              string(ev.UID),
		"type":             ev.Type,
		"reason":           ev.Reason,
		"message":          ev.Message,
		"count":            ev.GetCount(),
		"source":           source,
		"host":             host,
		"object_kind":      ev.InvolvedObject.Kind,
		"object_namespace": ev.InvolvedObject.Namespace,
		"object_name":      ev.InvolvedObject.Name,
		"object_uid":       string(ev.InvolvedObject.UID),
		"object_deleted":   ev.InvolvedObject.Deleted,
		"labels":           labels,
		"annotations":      annotations,
		"event":            string(whole),
	}
	if w := ev.InvolvedObject.Workload; w != nil {
		row["workload_kind"], row["workload_name"] = w.Kind, w.Name
	}
	return row, nil
}

// layoutRow is a rendered layout as a row: it must be a JSON object, whose
// keys are the table's columns.
func layoutRow(payload []byte) (map[string]bq.JsonValue, error) {
	var row map[string]bq.JsonValue
	if err := json.Unmarshal(payload, &row); err != nil {
		return nil, fmt.Errorf("layout: a BigQuery row must be a JSON object: %w", err)
	}
	return row, nil
}

// timestamp is t as BigQuery reads a TIMESTAMP (RFC 3339, microseconds);
// nil for an unset time.
func timestamp(t time.Time) bq.JsonValue {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.999999Z")
}

func jsonText(m map[string]string) (bq.JsonValue, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}
