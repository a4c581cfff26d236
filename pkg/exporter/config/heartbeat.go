package config

import (
	"fmt"
	"slices"
	"time"
)

// HeartbeatConfig is the top-level heartbeat key.
type HeartbeatConfig struct {
	Interval  time.Duration `yaml:"interval"`  // default 1m
	Receivers []string      `yaml:"receivers"` // required
}

// DefaultHeartbeatInterval is heartbeat.interval when unset.
const DefaultHeartbeatInterval = time.Minute

// check fills in the interval and checks the receivers exist (names);
// a nil heartbeat is off.
func (h *HeartbeatConfig) check(names []string) []error {
	if h == nil {
		return nil
	}
	var errs []error
	if h.Interval == 0 {
		h.Interval = DefaultHeartbeatInterval
	}
	if h.Interval < time.Second {
		errs = append(errs, fmt.Errorf("heartbeat.interval: %s is under a second", h.Interval))
	}
	if len(h.Receivers) == 0 {
		errs = append(errs, fmt.Errorf("heartbeat.receivers: name at least one receiver (the on-call tool that expects the heartbeat)"))
	}
	for i, r := range h.Receivers {
		if !slices.Contains(names, r) {
			errs = append(errs, fmt.Errorf("heartbeat.receivers[%d]: undefined receiver %q", i, r))
		}
	}
	return errs
}
