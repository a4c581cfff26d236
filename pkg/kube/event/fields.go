package event

import (
	"sort"
	"strings"
)

// Fields are the event fields a route rule matches and a group key takes,
// by their route-file name.
var Fields = map[string]func(*EnhancedEvent) string{
	"message":         func(e *EnhancedEvent) string { return e.Message },
	"apiVersion":      func(e *EnhancedEvent) string { return e.InvolvedObject.APIVersion },
	"kind":            func(e *EnhancedEvent) string { return e.InvolvedObject.Kind },
	"namespace":       func(e *EnhancedEvent) string { return e.Namespace },
	"reason":          func(e *EnhancedEvent) string { return e.Reason },
	"type":            func(e *EnhancedEvent) string { return e.Type },
	"component":       func(e *EnhancedEvent) string { return e.Source.Component },
	"host":            func(e *EnhancedEvent) string { return e.Source.Host },
	"name":            func(e *EnhancedEvent) string { return e.InvolvedObject.Name },
	"objectNamespace": func(e *EnhancedEvent) string { return e.InvolvedObject.Namespace },
	"class":           func(e *EnhancedEvent) string { return e.Class },
	"classDetail":     func(e *EnhancedEvent) string { return e.ClassDetail },
	// service is the Services selecting the object, comma-separated (a
	// route's service: matches each on its own).
	"service": func(e *EnhancedEvent) string { return strings.Join(e.InvolvedObject.Services, ",") },
	"workloadKind": func(e *EnhancedEvent) string {
		if w := e.InvolvedObject.Workload; w != nil {
			return w.Kind
		}
		return ""
	},
	"workloadName": func(e *EnhancedEvent) string {
		if w := e.InvolvedObject.Workload; w != nil {
			return w.Name
		}
		return ""
	},
	// node is the node an event is about or from: a Node's name, else the
	// reporting host (kubelet's node), so an inhibit rule can say
	// equal: [node] between a NodeNotReady and the pods on that node.
	"node": func(e *EnhancedEvent) string {
		if e.InvolvedObject.Kind == "Node" {
			return e.InvolvedObject.Name
		}
		return e.Source.Host
	},
	// workload is "Kind/name" of the top controller, else the object's own.
	"workload": func(e *EnhancedEvent) string {
		if w := e.InvolvedObject.Workload; w != nil {
			return w.Kind + "/" + w.Name
		}
		return e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name
	},
}

// Field is the getter of a field name: one of Fields, labels.KEY and
// annotations.KEY for the involved object's label or annotation, or
// extra.KEY for one of the configuration's extraFields.
func Field(name string) (func(*EnhancedEvent) string, bool) {
	if get, ok := Fields[name]; ok {
		return get, true
	}
	if key, ok := strings.CutPrefix(name, "labels."); ok && key != "" {
		return func(e *EnhancedEvent) string { return e.InvolvedObject.Labels[key] }, true
	}
	if key, ok := strings.CutPrefix(name, "annotations."); ok && key != "" {
		return func(e *EnhancedEvent) string { return e.InvolvedObject.Annotations[key] }, true
	}
	if key, ok := strings.CutPrefix(name, "extra."); ok && key != "" {
		return func(e *EnhancedEvent) string { return e.Extra[key] }, true
	}
	return nil, false
}

// FieldNames are the names of Fields, sorted, for error messages.
func FieldNames() []string {
	names := make([]string, 0, len(Fields))
	for n := range Fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
