package file

import (
	"bytes"
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
	p, err := sinks.NewPayload(path, c.Layout, c.DeDot, deps.MaxPayloadBytes)
	if err != nil {
		return nil, err
	}
	return &lineSink{payload: p, w: deps.Stdout}, nil
}

// lineSink writes one JSON document per line to a writer. A line whose
// write was cut (a pipe write past the send's deadline) is finished
// before anything else is written, so the reader never gets a fragment
// followed by another line; an event counts as sent only once its whole
// line is written.
type lineSink struct {
	payload sinks.Payload
	mu      sync.Mutex
	w       io.Writer
	buf     []byte
	// partial is a line of which only the first written bytes went out.
	partial []byte
	written int
}

func (s *lineSink) Send(_ context.Context, ev *event.EnhancedEvent) error {
	b, err := s.payload.Render(ev)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(append(s.buf[:0], b...), '\n')
	if s.partial != nil {
		n, err := s.w.Write(s.partial[s.written:])
		s.written += n
		if err != nil {
			return sinks.Retryable(sinks.ClassIO, err, 0)
		}
		finished := s.partial
		s.partial = nil
		if bytes.Equal(finished, s.buf) {
			return nil // the retried event's own line, now whole
		}
	}
	if n, err := s.w.Write(s.buf); err != nil {
		if n > 0 {
			s.partial, s.written = bytes.Clone(s.buf), n
		}
		return sinks.Retryable(sinks.ClassIO, err, 0)
	}
	return nil
}

// forgetPartial drops a cut line whose start the reader can no longer
// see (the pipe's reader went away with the buffered bytes).
func (s *lineSink) forgetPartial() {
	s.mu.Lock()
	s.partial = nil
	s.mu.Unlock()
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
