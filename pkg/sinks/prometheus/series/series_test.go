package series

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// BenchmarkHeapAt5000Series: the heap a metric with 5 labels holds at its
// default cap of 5000 series (label values of realistic length).
func BenchmarkHeapAt5000Series(b *testing.B) {
	var held uint64
	for b.Loop() {
		hub := NewHub()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f := hub.Claim(Spec{Name: "kube_events_total", Labels: []string{"namespace", "reason", "type", "kind", "workload"}, MaxSeries: 5000, ExpireAfter: time.Hour})
		now := time.Now()
		for i := 0; i < 5000; i++ {
			f.Add([]string{fmt.Sprintf("team-%03d", i%200), fmt.Sprintf("Reason%02d", i%25), "Warning", "Pod", fmt.Sprintf("Deployment/service-%04d", i)}, 1, now)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		held = after.HeapAlloc - before.HeapAlloc
		runtime.KeepAlive(f)
	}
	b.ReportMetric(float64(held), "heap-bytes")
	b.ReportMetric(float64(held)/5000, "bytes/series")
}
