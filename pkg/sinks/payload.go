package sinks

import (
	"fmt"

	"github.com/eventide/eventide/pkg/kube/event"

	"gopkg.in/yaml.v3"
)

// Payload renders an event as a receiver's JSON body: its layout when it has
// one, else the whole enriched event.
type Payload struct {
	layout *Layout
	deDot  bool
	max    int // bytes a rendered payload may hold
}

// NewPayload parses a receiver's layout (none: the whole event); errors
// name path.layout. A payload over max bytes (0: MaxRenderBytes) fails to
// render, as a template error for that event.
func NewPayload(path string, layout yaml.Node, deDot bool, max int) (Payload, error) {
	p := Payload{deDot: deDot, max: max}
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

// limit is max, MaxRenderBytes when unset (a Payload{} literal).
func (p Payload) limit() int {
	if p.max <= 0 {
		return MaxRenderBytes
	}
	return p.max
}

// Render is ev's payload.
func (p Payload) Render(ev *event.EnhancedEvent) ([]byte, error) {
	if p.deDot {
		ev = ev.DeDot()
	}
	var b []byte
	var err error
	if p.layout != nil {
		b, err = p.layout.render(ev, max(p.limit(), MaxRenderBytes))
	} else {
		b, err = ev.ToJSON()
	}
	if limit := p.limit(); err == nil && len(b) > limit {
		return nil, &TemplateError{Err: fmt.Errorf("payload is %d bytes, over maxPayloadBytes (%d)", len(b), limit)}
	}
	return b, err
}
