package kube

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/go-logr/logr"
	"github.com/rs/zerolog"
	"k8s.io/klog/v2"
)

// RouteKlog sends what client-go logs through klog to log, so eventide
// writes one JSON stream (a 401 used to print plain-text klog lines into
// it). klog's verbosity maps to levels: errors are errors, V(0) info,
// V(1)-V(3) debug, more verbose trace. klog's logger may only be set before
// anything logs, so it is set once per process and later calls change
// where it writes.
func RouteKlog(log zerolog.Logger) {
	l := log.With().Str("component", "client-go").Logger()
	klogTarget.Store(&l)
	klogOnce.Do(func() { klog.SetLogger(logr.New(&klogSink{})) })
}

var (
	klogOnce   sync.Once
	klogTarget atomic.Pointer[zerolog.Logger]
)

// klogSink writes klog's lines to klogTarget, or to log when set (the
// values and names klog adds).
type klogSink struct {
	log  *zerolog.Logger
	name string
}

func (s *klogSink) logger() *zerolog.Logger {
	if s.log != nil {
		return s.log
	}
	if l := klogTarget.Load(); l != nil {
		return l
	}
	nop := zerolog.Nop()
	return &nop
}

func klogLevel(v int) zerolog.Level {
	switch {
	case v <= 0:
		return zerolog.InfoLevel
	case v <= 3:
		return zerolog.DebugLevel
	}
	return zerolog.TraceLevel
}

func (s *klogSink) Init(logr.RuntimeInfo) {}

func (s *klogSink) Enabled(v int) bool {
	l := klogLevel(v)
	return l >= zerolog.GlobalLevel() && l >= s.logger().GetLevel()
}

func (s *klogSink) Info(v int, msg string, kv ...any) {
	s.with(s.logger().WithLevel(klogLevel(v)), kv).Msg(msg)
}

func (s *klogSink) Error(err error, msg string, kv ...any) {
	s.with(s.logger().Error().Err(err), kv).Msg(msg)
}

func (s *klogSink) with(e *zerolog.Event, kv []any) *zerolog.Event {
	if s.name != "" {
		e = e.Str("logger", s.name)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		e = e.Interface(fmt.Sprint(kv[i]), kv[i+1])
	}
	return e
}

func (s *klogSink) WithValues(kv ...any) logr.LogSink {
	c := s.logger().With()
	for i := 0; i+1 < len(kv); i += 2 {
		c = c.Interface(fmt.Sprint(kv[i]), kv[i+1])
	}
	l := c.Logger()
	return &klogSink{log: &l, name: s.name}
}

func (s *klogSink) WithName(name string) logr.LogSink {
	if s.name != "" {
		name = s.name + "." + name
	}
	return &klogSink{log: s.log, name: name}
}
