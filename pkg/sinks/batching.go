package sinks

import (
	"fmt"
	"time"
)

// Batching is the batchSize and flushInterval keys of a receiver that
// sends one request per batch (search, Loki). Embedded inline in its
// Config and, after Check, in its sink, it is the sink's Lingerer half.
type Batching struct {
	// BatchSize is the most events per request (default 500);
	// FlushInterval how long a batch waits to fill (default 1s).
	BatchSize     int           `yaml:"batchSize"`
	FlushInterval time.Duration `yaml:"flushInterval"`
}

// Check fills in the defaults; the error names path.batchSize.
func (b Batching) Check(path string) (Batching, error) {
	if b.BatchSize == 0 {
		b.BatchSize = 500
	}
	if b.FlushInterval == 0 {
		b.FlushInterval = time.Second
	}
	if b.BatchSize < 0 || b.BatchSize > 10000 {
		return b, fmt.Errorf("%s.batchSize: %d is not between 1 and 10000", path, b.BatchSize)
	}
	return b, nil
}

func (b Batching) MaxBatch() int         { return b.BatchSize }
func (b Batching) Linger() time.Duration { return b.FlushInterval }
