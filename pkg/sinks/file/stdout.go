package file

import (
	"context"
	"io"
	"sync"

	"github.com/eventide/eventide/pkg/sinks"

	"github.com/eventide/eventide/pkg/kube/event"

	"gopkg.in/yaml.v3"
)

// StdoutConfig writes one JSON line per event to standard output.
type StdoutConfig struct {
	Layout yaml.Node `yaml:"layout"`
	DeDot  bool      `yaml:"deDot"`
}

func (c *StdoutConfig) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	p, err := sinks.NewPayload(path, c.Layout, c.DeDot)
	if err != nil {
		return nil, err
	}
	return &lineSink{payload: p, w: deps.Stdout}, nil
}

// lineSink writes one JSON document per line to a writer.
type lineSink struct {
	payload sinks.Payload
	mu      sync.Mutex
	w       io.Writer
	buf     []byte
}

func (s *lineSink) Send(_ context.Context, ev *event.EnhancedEvent) error {
	b, err := s.payload.Render(ev)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(append(s.buf[:0], b...), '\n')
	if _, err := s.w.Write(s.buf); err != nil {
		return sinks.Retryable("io", err, 0)
	}
	return nil
}

func (s *lineSink) Close() error { return nil }

// Preview is the line written for ev (file, pipe and stdout alike).
func (s *lineSink) Preview(ev *event.EnhancedEvent) (any, error) {
	b, err := s.payload.Render(ev)
	if err != nil {
		return nil, err
	}
	return struct {
		Line any `json:"line"`
	}{sinks.PreviewBody(b)}, nil
}

// Send and Preview build the request with the same code.
var _ sinks.Previewer = (*lineSink)(nil)
