package config

import (
	"fmt"
	"strings"

	promsink "github.com/eventide/eventide/pkg/sinks/prometheus"
)

// checkEventMetricNames refuses a prometheus receiver's metric name that
// another one of the file already has, or that is eventide's own (its
// metricsNamePrefix, eventide_ by default) or the Go client's (go_,
// process_, promhttp_): both would be on the same /metrics.
func checkEventMetricNames(cfgs []ReceiverConfig, prefix string) []error {
	if prefix == "" {
		prefix = "eventide_"
	}
	var errs []error
	seen := map[string]int{}
	for i, rc := range cfgs {
		c, ok := rc.Settings.(*promsink.Config)
		if !ok || c.Name == "" {
			continue
		}
		path := fmt.Sprintf("receivers[%d].prometheus.name", i)
		for _, own := range []string{prefix, "eventide_", "go_", "process_", "promhttp_"} {
			if strings.HasPrefix(c.Name, own) {
				errs = append(errs, fmt.Errorf("%s: %q is in eventide's own metrics (%s…): pick another name, such as kube_events_total", path, c.Name, own))
				break
			}
		}
		if j, dup := seen[c.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: %q is already the metric of receivers[%d]", path, c.Name, j))
		}
		seen[c.Name] = i
	}
	return errs
}
