package runtime

import (
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Log limits: a receiver failing on every event must not write a line per
// event. Per kind of line (a reason class), the first logBurst lines of a
// logWindow go out; the rest are only counted (the metrics count every
// one), and the next line after the window says how many were left out.
const (
	logBurst  = 5
	logWindow = time.Minute
)

// logLimiter decides which lines of each kind are written.
type logLimiter struct {
	mu    sync.Mutex
	now   func() time.Time
	kinds map[string]*logCount
}

type logCount struct {
	start      time.Time
	written    int
	suppressed int
}

func newLogLimiter() *logLimiter {
	return &logLimiter{now: time.Now, kinds: map[string]*logCount{}}
}

// event returns the log event for a line of kind, or nil when the line is
// left out; a line after left-out ones carries their count.
func (l *logLimiter) event(kind string, e *zerolog.Event) *zerolog.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	c := l.kinds[kind]
	if c == nil {
		c = &logCount{start: now}
		l.kinds[kind] = c
	}
	if now.Sub(c.start) >= logWindow {
		c.start, c.written = now, 0
	}
	if c.written >= logBurst {
		c.suppressed++
		return nil
	}
	c.written++
	if c.suppressed > 0 {
		e = e.Int("similar_lines_left_out", c.suppressed)
		c.suppressed = 0
	}
	return e
}
