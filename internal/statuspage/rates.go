package statuspage

import (
	"math"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Rates samples eventide's own counters and latency histograms every
// SampleEvery, keeping the last five minutes, so the overview can show
// events in and out per minute and each receiver's delivery latency p50
// and p99 over the last five minutes: quantiles of the histogram's bucket
// deltas, as Prometheus' histogram_quantile computes them.
type Rates struct {
	src Counters

	mu      sync.Mutex
	samples []sample // oldest first, at most keep
}

// Counters are the metrics Rates reads (pkg/exporter's and its runtime's).
type Counters struct {
	In      *prometheus.CounterVec   // events received
	Out     *prometheus.CounterVec   // events delivered, by receiver
	Dead    *prometheus.CounterVec   // dead letters, by receiver
	Latency *prometheus.HistogramVec // delivery latency, by receiver
}

// SampleEvery is how often Rates samples; window what it keeps.
const (
	SampleEvery = 15 * time.Second
	window      = 5 * time.Minute
	keep        = int(window/SampleEvery) + 1
)

type sample struct {
	at      time.Time
	in, out float64
	dead    map[string]float64
	latency map[string][]bucket
}

// bucket is a cumulative histogram bucket.
type bucket struct {
	le    float64
	count float64
}

// NewRates reads src.
func NewRates(src Counters) *Rates { return &Rates{src: src} }

// Sample takes a sample now; Run calls it every SampleEvery.
func (r *Rates) Sample(now time.Time) {
	s := r.read(now)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples, s)
	if len(r.samples) > keep {
		r.samples = append(r.samples[:0], r.samples[len(r.samples)-keep:]...)
	}
}

// Run samples until stop is closed.
func (r *Rates) Run(stop <-chan struct{}) {
	t := time.NewTicker(SampleEvery)
	defer t.Stop()
	r.Sample(time.Now())
	for {
		select {
		case now := <-t.C:
			r.Sample(now)
		case <-stop:
			return
		}
	}
}

func (r *Rates) read(now time.Time) sample {
	s := sample{at: now, dead: map[string]float64{}, latency: map[string][]bucket{}}
	each(r.src.In, func(_ string, m *dto.Metric) { s.in += m.GetCounter().GetValue() })
	each(r.src.Out, func(rcv string, m *dto.Metric) { s.out += m.GetCounter().GetValue() })
	each(r.src.Dead, func(rcv string, m *dto.Metric) { s.dead[rcv] += m.GetCounter().GetValue() })
	each(r.src.Latency, func(rcv string, m *dto.Metric) {
		h := m.GetHistogram()
		bs := make([]bucket, 0, len(h.GetBucket())+1)
		for _, b := range h.GetBucket() {
			bs = append(bs, bucket{le: b.GetUpperBound(), count: float64(b.GetCumulativeCount())})
		}
		s.latency[rcv] = append(bs, bucket{le: math.Inf(1), count: float64(h.GetSampleCount())})
	})
	return s
}

// each calls fn with every child of c and its receiver label.
func each(c prometheus.Collector, fn func(receiver string, m *dto.Metric)) {
	if c == nil {
		return
	}
	ch := make(chan prometheus.Metric, 16)
	go func() { c.Collect(ch); close(ch) }()
	for metric := range ch {
		var m dto.Metric
		if metric.Write(&m) != nil {
			continue
		}
		rcv := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == "receiver" {
				rcv = l.GetValue()
			}
		}
		fn(rcv, &m)
	}
}

// Now is what the overview shows, read at now against the samples.
type Now struct {
	// InPerMinute and OutPerMinute are over the last minute (or as much
	// as was sampled); nil before a first sample.
	InPerMinute, OutPerMinute *float64
	Receivers                 map[string]ReceiverRates
}

// ReceiverRates are one receiver's figures.
type ReceiverRates struct {
	DeadLetters float64
	// P50 and P99 are delivery latencies in seconds over the last five
	// minutes; nil when nothing was delivered then.
	P50, P99 *float64
}

// At reads the counters now and compares them with the samples.
func (r *Rates) At(now time.Time) Now {
	cur := r.read(now)
	r.mu.Lock()
	minute, five := r.before(now.Add(-time.Minute)), r.before(now.Add(-window))
	r.mu.Unlock()
	out := Now{Receivers: map[string]ReceiverRates{}}
	if minute != nil {
		if secs := now.Sub(minute.at).Seconds(); secs > 0 {
			in, sent := (cur.in-minute.in)*60/secs, (cur.out-minute.out)*60/secs
			out.InPerMinute, out.OutPerMinute = &in, &sent
		}
	}
	for rcv, n := range cur.dead {
		out.Receivers[rcv] = ReceiverRates{DeadLetters: n}
	}
	for rcv, bs := range cur.latency {
		rr := out.Receivers[rcv]
		if five != nil {
			delta := deltas(bs, five.latency[rcv])
			rr.P50, rr.P99 = quantile(0.5, delta), quantile(0.99, delta)
		}
		out.Receivers[rcv] = rr
	}
	return out
}

// before is the newest sample taken at or before t, else the oldest; nil
// when there is none. The caller holds r.mu.
func (r *Rates) before(t time.Time) *sample {
	if len(r.samples) == 0 {
		return nil
	}
	i := sort.Search(len(r.samples), func(i int) bool { return r.samples[i].at.After(t) })
	if i == 0 {
		return &r.samples[0]
	}
	return &r.samples[i-1]
}

// deltas is cur minus old, bucket by bucket (old missing: a new receiver,
// or counters reset by a re-created worker: cur as it is).
func deltas(cur, old []bucket) []bucket {
	if len(old) != len(cur) || old[len(old)-1].count > cur[len(cur)-1].count {
		return cur
	}
	d := make([]bucket, len(cur))
	for i := range cur {
		d[i] = bucket{le: cur[i].le, count: cur[i].count - old[i].count}
	}
	return d
}

// quantile is histogram_quantile(q) over cumulative buckets: linear
// interpolation inside the bucket the rank falls in; the upper bound of
// the last finite bucket when it falls in +Inf. Nil without observations.
func quantile(q float64, bs []bucket) *float64 {
	if len(bs) == 0 || bs[len(bs)-1].count == 0 {
		return nil
	}
	rank := q * bs[len(bs)-1].count
	lowerLe, lowerCount := 0.0, 0.0
	for _, b := range bs {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				v := lowerLe
				return &v
			}
			v := lowerLe
			if b.count > lowerCount {
				v += (b.le - lowerLe) * (rank - lowerCount) / (b.count - lowerCount)
			}
			return &v
		}
		lowerLe, lowerCount = b.le, b.count
	}
	return nil
}
