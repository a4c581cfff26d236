package testenv

import (
	"syscall"
	"testing"
	"time"
)

// CPUMeter measures the test process's CPU time (user + system) over a
// benchmark, to report CPU per event next to events/s. In-process servers
// (kfake, pstest, the fakes) are part of the process and counted too.
type CPUMeter struct{ start time.Duration }

// StartCPU reads the CPU time so far.
func StartCPU() CPUMeter { return CPUMeter{start: processCPU()} }

// Report adds events/s and CPU µs per event to b's results.
func (m CPUMeter) Report(b *testing.B, events int) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64((processCPU()-m.start).Microseconds())/float64(events), "cpu-µs/event")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
