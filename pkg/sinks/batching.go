package sinks

import (
	"fmt"
	"time"
)

// Batching is the batchSize and flushInterval keys of a receiver that
// sends one request per batch (search, Loki, BigQuery, the batching AWS
// receivers). Embedded inline in its Config and, after Check, in its sink,
// it is the sink's Lingerer half.
type Batching struct {
	// BatchSize is the most events per request (default: 500, or the
	// service's own limit when lower); FlushInterval how long a batch
	// waits to fill (default 1s).
	BatchSize     int           `yaml:"batchSize"`
	FlushInterval time.Duration `yaml:"flushInterval"`
}

// Check fills in the defaults; the error names path.batchSize.
func (b Batching) Check(path string) (Batching, error) { return b.CheckMax(path, 10000) }

// CheckMax is Check for a service whose batch call takes at most max
// entries (SQS and EventBridge: 10): batchSize defaults to min(500, max).
func (b Batching) CheckMax(path string, max int) (Batching, error) {
	if b.BatchSize == 0 {
		b.BatchSize = min(500, max)
	}
	if b.FlushInterval == 0 {
		b.FlushInterval = time.Second
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
