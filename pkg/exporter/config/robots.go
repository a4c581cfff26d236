package config

import (
	"github.com/eventide/eventide/pkg/exporter/runtime"
	"github.com/eventide/eventide/pkg/sinks"
)

// robotDefaults gives a receiver whose service throttles senders (the chat
// robots: sinks.RateLimited) that service's rate as its
// delivery.rateLimit when none is set, and warns, once at load, when such a
// receiver has no group: a burst of events then waits its turn at that
// rate and arrives late.
func robotDefaults(path string, rc *ReceiverConfig, d runtime.Delivery, s sinks.Sink, deps sinks.Deps) runtime.Delivery {
	rl, ok := s.(sinks.RateLimited)
	if !ok {
		return d
	}
	if d.RateLimit.Every == 0 {
		if l, err := runtime.ParseRateLimit(rl.DefaultRateLimit()); err == nil {
			d.RateLimit = l
		}
	}
	if rc.Group == nil {
		deps.Log.Warn().Str("receiver", rc.Name).Str("receiver_path", path).Str("rate_limit", d.RateLimit.String()).
			Msg("a chat robot without group: sends one message per event, no faster than rate_limit, so a burst arrives late (100 events at 20/min take 5 minutes); add group: to send one message per group")
	}
	return d
}
