package runtime

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/eventide/eventide/pkg/kube/event"

	"gopkg.in/natefinch/lumberjack.v2"
)

// DeadLetter appends events a receiver rejected for good (a 400, a template
// error, retries exhausted) to a JSON-lines file, with why, so nothing is
// lost silently and the events can be looked at or replayed.
type DeadLetter struct {
	mu sync.Mutex
	w  *lumberjack.Logger
}

// DeadLetterRecord is one line of the dead-letter file.
type DeadLetterRecord struct {
	Time     time.Time            `json:"time"`
	Receiver string               `json:"receiver"`
	Reason   string               `json:"reason"`
	Error    string               `json:"error"`
	Attempts int                  `json:"attempts"`
	Event    *event.EnhancedEvent `json:"event"`
}

// NewDeadLetter writes to path (created with its folder), rotated beyond
// maxSizeMB.
func NewDeadLetter(path string, maxSizeMB int) (*DeadLetter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("dead-letter folder: %w; set deadLetter.path to a file in a writable folder (the Helm chart mounts /var/lib/eventide), or \"-\" to keep no dead letters", err)
	}
	return &DeadLetter{w: &lumberjack.Logger{Filename: path, MaxSize: maxSizeMB, MaxBackups: 3}}, nil
}

// Write appends one record.
func (d *DeadLetter) Write(receiver, reason string, err error, attempts int, ev *event.EnhancedEvent) error {
	b, merr := json.Marshal(DeadLetterRecord{Time: time.Now().UTC(), Receiver: receiver, Reason: reason,
		Error: err.Error(), Attempts: attempts, Event: ev})
	if merr != nil {
		return merr
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_, werr := d.w.Write(append(b, '\n'))
	return werr
}

// Close closes the file.
func (d *DeadLetter) Close() error { return d.w.Close() }
