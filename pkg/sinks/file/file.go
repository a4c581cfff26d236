// Package file writes one JSON line per event to a file (rotated), a pipe or standard output.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/eventide/eventide/pkg/sinks"

	"github.com/eventide/eventide/pkg/kube/event"

	"gopkg.in/natefinch/lumberjack.v2"
	"gopkg.in/yaml.v3"
)

// Config appends one JSON line per event to a file, rotated by size.
// A path that is not a regular file (/dev/stdout, a FIFO) is written as it
// is, without rotation, so pointing it at /dev/stdout keeps working.
type Config struct {
	Path       string    `yaml:"path"`
	Layout     yaml.Node `yaml:"layout"`
	MaxSize    int       `yaml:"maxsize"`    // megabytes before rotation; default 100
	MaxAge     int       `yaml:"maxage"`     // days to keep rotated files; 0 keeps all
	MaxBackups int       `yaml:"maxbackups"` // rotated files to keep; 0 keeps all
	DeDot      bool      `yaml:"deDot"`
}

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	if c.Path == "" {
		errs = append(errs, fmt.Errorf("%s.path: required", path))
	}
	if c.MaxSize < 0 || c.MaxAge < 0 || c.MaxBackups < 0 {
		errs = append(errs, fmt.Errorf("%s: maxsize, maxage and maxbackups must not be negative", path))
	}
	p, err := sinks.NewPayload(path, c.Layout, c.DeDot, deps.MaxPayloadBytes)
	if err := errors.Join(append(errs, err)...); err != nil {
		return nil, err
	}
	cfg := *c
	return &fileSink{lineSink: lineSink{payload: p}, open: func() (io.WriteCloser, error) { return openFile(cfg) }}, nil
}

// PipeConfig writes one JSON line per event to a named pipe or device.
type PipeConfig struct {
	Path   string    `yaml:"path"`
	Layout yaml.Node `yaml:"layout"`
	DeDot  bool      `yaml:"deDot"`
}

func (c *PipeConfig) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	if c.Path == "" {
		errs = append(errs, fmt.Errorf("%s.path: required", path))
	}
	p, err := sinks.NewPayload(path, c.Layout, c.DeDot, deps.MaxPayloadBytes)
	if err := errors.Join(append(errs, err)...); err != nil {
		return nil, err
	}
	target := c.Path
	return &fileSink{lineSink: lineSink{payload: p}, open: func() (io.WriteCloser, error) { return openPipe(target) }}, nil
}

// errNoReader: a FIFO nobody reads. Retryable: a reader may come.
var errNoReader = errors.New("no process reads this pipe")

// openPipe opens a FIFO or a device for writing without blocking: a FIFO
// with no reader is an error the runtime retries (and counts), not a worker
// stuck in open(2); writes then honour the send's deadline.
func openPipe(path string) (io.WriteCloser, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ENXIO) {
		return nil, fmt.Errorf("%s: %w", path, errNoReader)
	}
	return f, err
}

// fileSink opens its target on first Send, so building it has no side
// effects, and reopens it after a write error.
type fileSink struct {
	lineSink
	open   func() (io.WriteCloser, error)
	wc     io.WriteCloser
	openMu sync.Mutex // guards wc: opened on the first send, closed after a failure
}

func (s *fileSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	s.openMu.Lock()
	if s.wc == nil {
		wc, err := s.open()
		if err != nil {
			s.openMu.Unlock()
			if errors.Is(err, errNoReader) {
				s.lineSink.forgetPartial() // went with the reader that had it
				return sinks.Retryable(sinks.ClassNoReader, err, 0)
			}
			return sinks.Retryable(sinks.ClassIO, fmt.Errorf("open: %w", err), 0)
		}
		s.wc = wc
		s.lineSink.w = wc
	}
	if d, ok := ctx.Deadline(); ok {
		if f, ok := s.wc.(interface{ SetWriteDeadline(time.Time) error }); ok {
			_ = f.SetWriteDeadline(d) // regular files have none: they do not block
		}
	}
	s.openMu.Unlock()
	err := s.lineSink.Send(ctx, ev)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = sinks.Retryable(sinks.ClassTimeout, fmt.Errorf("the reader does not keep up: %w", err), 0)
	case errors.Is(err, syscall.EPIPE):
		s.lineSink.forgetPartial()
		err = sinks.Retryable(sinks.ClassNoReader, fmt.Errorf("the reader went away: %w", err), 0)
	}
	if err != nil && !sinks.IsTemplateError(err) {
		s.openMu.Lock()
		_ = s.wc.Close()
		s.wc = nil
		s.openMu.Unlock()
	}
	return err
}

func (s *fileSink) Close() error {
	s.openMu.Lock()
	defer s.openMu.Unlock()
	if s.wc == nil {
		return nil
	}
	err := s.wc.Close()
	s.wc = nil
	return err
}

func openFile(c Config) (io.WriteCloser, error) {
	if fi, err := os.Stat(c.Path); err == nil && !fi.Mode().IsRegular() {
		// A device or a pipe cannot be rotated; write to it as it is.
		return openPipe(c.Path)
	}
	maxSize := c.MaxSize
	if maxSize == 0 {
		maxSize = 100
	}
	return &lumberjack.Logger{Filename: c.Path, MaxSize: maxSize, MaxAge: c.MaxAge, MaxBackups: c.MaxBackups}, nil
}
