package sql

import (
	"encoding/json"
	"time"

	"github.com/eventide/eventide/pkg/kube/event"
)

// rowValues are ev's values for the columns of mode, in their order.
func rowValues(mode string, ev *event.EnhancedEvent) ([]any, error) {
	o := ev.InvolvedObject
	count := max(ev.GetCount(), 1)
	if mode == ModeAppend {
		// kube-eventer's columns and formats: the object's namespace and
		// name, times as Go prints them.
		first := ev.FirstTimestamp.Time
		return []any{o.Namespace, o.Kind, o.Name, ev.Type, ev.Reason, ev.Message, string(ev.UID),
			first.String(), ev.GetLastTime().String(), count}, nil
	}
	labels, err := jsonOrNil(o.Labels)
	if err != nil {
		return nil, err
	}
	annotations, err := jsonOrNil(o.Annotations)
	if err != nil {
		return nil, err
	}
	workload := ""
	if w := o.Workload; w != nil {
		workload = w.Kind + "/" + w.Name
	}
	component := ev.Source.Component
	if component == "" {
		component = ev.ReportingController
	}
	host := ev.Source.Host
	if host == "" {
		host = ev.ReportingInstance
	}
	last := ev.GetLastTime().UTC()
	first := ev.GetFirstTime().UTC()
	if first.IsZero() || first.After(last) {
		first = last
	}
	uid := string(ev.UID)
	if uid == "" {
		uid = ev.Namespace + "/" + ev.Name // hand-written: its name is all it has
	}
	return []any{uid, ev.ClusterName, ev.Namespace, ev.Name, o.Kind, o.Namespace, o.Name, string(o.UID),
		workload, ev.Reason, ev.Type, ev.Message, component, host, count, first.Truncate(time.Microsecond), last.Truncate(time.Microsecond), labels, annotations}, nil
}

// jsonOrNil is m as a JSON string, or NULL when empty.
func jsonOrNil(m map[string]string) (any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}
