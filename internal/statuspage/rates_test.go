package statuspage

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Latency quantiles come from the histogram's bucket deltas over the
// last five minutes, as histogram_quantile computes them; rates from the
// counters' increase over the last minute.
func TestRates(t *testing.T) {
	in := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "in"}, []string{"type"})
	out := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "out"}, []string{"receiver"})
	dead := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dead"}, []string{"receiver"})
	lat := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lat", Buckets: []float64{0.1, 1, 10}}, []string{"receiver"})
	r := NewRates(Counters{In: in, Out: out, Dead: dead, Latency: lat})
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

	// Before the window: 100 slow sends, which must not count.
	for range 100 {
		lat.WithLabelValues("slack").Observe(5)
	}
	in.WithLabelValues("Warning").Add(1000)
	r.Sample(t0)
	if now := r.At(t0.Add(time.Second)); now.InPerMinute == nil || *now.InPerMinute != 0 || now.Receivers["slack"].P50 != nil {
		t.Errorf("nothing new yet: in %v, p50 %v", now.InPerMinute, now.Receivers["slack"].P50)
	}
	// In the window: 90 sends between 0 and 0.1 s, 10 between 1 and 10 s.
	for range 90 {
		lat.WithLabelValues("slack").Observe(0.05)
	}
	for range 10 {
		lat.WithLabelValues("slack").Observe(2)
	}
	in.WithLabelValues("Warning").Add(60)
	out.WithLabelValues("slack").Add(30)
	dead.WithLabelValues("slack").Add(2)
	now := r.At(t0.Add(30 * time.Second)) // half a minute sampled: scaled to a minute
	if *now.InPerMinute != 120 || *now.OutPerMinute != 60 {
		t.Errorf("per minute: in %v, out %v; want 120 and 60", *now.InPerMinute, *now.OutPerMinute)
	}
	s := now.Receivers["slack"]
	// p50: rank 50 of 100 in the first bucket (90 in [0, 0.1]): 0.1×50/90.
	// p99: rank 99 in the third bucket (10 in (1, 10], from rank 90): 1 + 9×9/10.
	if s.P50 == nil || math.Abs(*s.P50-0.1*50/90) > 1e-9 || s.P99 == nil || math.Abs(*s.P99-9.1) > 1e-9 || s.DeadLetters != 2 {
		t.Errorf("slack: p50 %v, p99 %v, dead %v", deref(s.P50), deref(s.P99), s.DeadLetters)
	}
	// Samples older than the window give way: after five more minutes of
	// samples with no send, the quantiles are unknown again.
	for i := 1; i <= keep; i++ {
		r.Sample(t0.Add(time.Duration(i) * SampleEvery))
	}
	if s := r.At(t0.Add(time.Duration(keep) * SampleEvery)).Receivers["slack"]; s.P50 != nil {
		t.Errorf("p50 %v with nothing sent in five minutes", *s.P50)
	}
}

// A rank in the +Inf bucket is the highest finite bound, as Prometheus
// answers.
func TestQuantileInInfBucket(t *testing.T) {
	bs := []bucket{{0.1, 0}, {1, 1}, {math.Inf(1), 10}}
	if q := quantile(0.99, bs); q == nil || *q != 1 {
		t.Errorf("p99 %v, want 1", deref(q))
	}
}

func deref(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}
