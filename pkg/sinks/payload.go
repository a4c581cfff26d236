package sinks

import (
	"github.com/eventide/eventide/pkg/kube/event"

	"gopkg.in/yaml.v3"
)

// Payload renders an event as a receiver's JSON body: its layout when it has
// one, else the whole enriched event.
type Payload struct {
	layout *Layout
	deDot  bool
}

// NewPayload parses a receiver's layout (none: the whole event); errors
// name path.layout.
func NewPayload(path string, layout yaml.Node, deDot bool) (Payload, error) {
	p := Payload{deDot: deDot}
	if layout.Kind == 0 {
		return p, nil
	}
	if layout.Kind == yaml.MappingNode && len(layout.Content) == 0 {
		return p, nil // {}: the whole event (the config load warns about it)
	}
	l, err := ParseLayout(path+".layout", &layout)
	if err != nil {
		return p, err
	}
	p.layout = l
	return p, nil
}

// Render is ev's payload.
func (p Payload) Render(ev *event.EnhancedEvent) ([]byte, error) {
	if p.deDot {
		ev = ev.DeDot()
	}
	if p.layout != nil {
		return p.layout.Render(ev)
	}
	return ev.ToJSON()
}
