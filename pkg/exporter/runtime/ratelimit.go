package runtime

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	"gopkg.in/yaml.v3"
)

// RateLimit is delivery.rateLimit: at most N sends per second, minute or
// hour ("1/s", "20/min", "100/h"), spread evenly. Sends beyond it wait
// (the receiver's queue holds the events); none is dropped.
type RateLimit struct {
	// Every is the time one send costs; zero: no limit.
	Every time.Duration
	text  string
}

func (r *RateLimit) UnmarshalYAML(n *yaml.Node) error {
	l, err := ParseRateLimit(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: rateLimit %q is not N/s, N/min or N/h with N at least 1", n.Line, n.Value)}}
	}
	*r = l
	return nil
}

// ParseRateLimit reads "N/s", "N/min" or "N/h".
func ParseRateLimit(text string) (RateLimit, error) {
	n, unit, ok := strings.Cut(strings.TrimSpace(text), "/")
	per := map[string]time.Duration{"s": time.Second, "sec": time.Second, "m": time.Minute, "min": time.Minute, "h": time.Hour}[unit]
	count, err := strconv.Atoi(n)
	if !ok || per == 0 || err != nil || count < 1 {
		return RateLimit{}, fmt.Errorf("rate limit %q is not N/s, N/min or N/h with N at least 1", text)
	}
	return RateLimit{Every: per / time.Duration(count), text: text}, nil
}

func (r RateLimit) MarshalYAML() (any, error) { return r.text, nil }

// pacer makes a receiver's sends wait for its rate limit, and counts the
// waits. A nil pacer does not wait.
type pacer struct {
	limiter     *rate.Limiter
	waits       prometheus.Counter
	waitSeconds prometheus.Counter
}

// newPacer is receiver's pacer for d.RateLimit; nil without one.
func (m *Metrics) newPacer(receiver string, d Delivery) *pacer {
	if d.RateLimit.Every == 0 {
		return nil
	}
	return &pacer{limiter: rate.NewLimiter(rate.Every(d.RateLimit.Every), 1),
		waits: m.RateLimitWaits.WithLabelValues(receiver), waitSeconds: m.RateLimitWaitSeconds.WithLabelValues(receiver)}
}

// wait blocks until the next send may go, or ctx ends; h is told until
// when it waits.
func (p *pacer) wait(ctx context.Context, h *health) error {
	if p == nil {
		return nil
	}
	r := p.limiter.Reserve()
	d := r.Delay()
	if d == 0 {
		return nil
	}
	p.waits.Inc()
	p.waitSeconds.Add(d.Seconds())
	h.pacing(time.Now().Add(d))
	if err := sleepCtx(ctx, d); err != nil {
		r.Cancel()
		return err
	}
	return nil
}

// String is the limit as written ("20/min"); empty for none.
func (r RateLimit) String() string { return r.text }
