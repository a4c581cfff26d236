package sinks

import (
	"fmt"
	"time"
)

// Batching is the batchSize and flushInterval keys of every receiver that
// sends one request per batch (search, Loki, BigQuery, Kafka, Pub/Sub,
// syslog, the batching AWS receivers). Embedded inline in its Config and,
// after Check, in its sink, it is the sink's Lingerer half.
type Batching struct {
	// BatchSize is the most events per request (default: 500, or the
	// service's own limit when lower); FlushInterval how long a batch
	// waits to fill (default 1s).
	BatchSize     int           `yaml:"batchSize"`
	FlushInterval time.Duration `yaml:"flushInterval"`
}

// BatchDefaults are a receiver's own defaults for batchSize and
// flushInterval (0: send what is queued at once, wait for nothing), and
// the most entries its service takes in one call.
type BatchDefaults struct {
	Size  int
	Flush time.Duration
	Max   int
}

// Check fills in the defaults (500 events, 1s); the error names
// path.batchSize.
func (b Batching) Check(path string) (Batching, error) { return b.CheckMax(path, 10000) }

// CheckMax is Check for a service whose batch call takes at most max
// entries (SQS and EventBridge: 10): batchSize defaults to min(500, max).
func (b Batching) CheckMax(path string, max int) (Batching, error) {
	return b.CheckWith(path, BatchDefaults{Size: min(500, max), Flush: time.Second, Max: max})
}

// CheckWith is Check with a receiver's own defaults.
func (b Batching) CheckWith(path string, d BatchDefaults) (Batching, error) {
	max := d.Max
	if b.BatchSize == 0 {
		b.BatchSize = d.Size
	}
	if b.FlushInterval == 0 {
		b.FlushInterval = d.Flush
	}
	if b.BatchSize < 0 || b.BatchSize > max {
		return b, fmt.Errorf("%s.batchSize: %d is not between 1 and %d", path, b.BatchSize, max)
	}
	if b.FlushInterval < 0 {
		return b, fmt.Errorf("%s.flushInterval: %s is negative", path, b.FlushInterval)
	}
	return b, nil
}

func (b Batching) MaxBatch() int         { return b.BatchSize }
func (b Batching) Linger() time.Duration { return b.FlushInterval }
