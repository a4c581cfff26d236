// Package opensearch bulk-indexes events into OpenSearch with the official
// client (opensearch-go). The bulk rules are in pkg/sinks/search.
package opensearch

import (
	"errors"
	"fmt"

	"github.com/opensearch-project/opensearch-go/v4"

	"github.com/eventide/eventide/pkg/sinks"
	"github.com/eventide/eventide/pkg/sinks/search"
)

// Config is the old tool's opensearch keys.
type Config struct {
	search.Config `yaml:",inline"`
}

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	if len(c.Hosts) == 0 {
		errs = append(errs, fmt.Errorf("%s.hosts: required (one URL or more)", path))
	}
	t, err := c.Transport(path, deps, false)
	errs = append(errs, err)
	var perform search.Perform
	if err == nil && len(c.Hosts) > 0 {
		client, cerr := opensearch.NewClient(opensearch.Config{Addresses: c.Hosts, Username: c.Username,
			Password: c.Password.Value(), Transport: t, DisableRetry: true})
		if cerr != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, cerr))
		} else {
			perform = client.Stream
		}
	}
	s, err := c.Config.Build(path, perform, deps.MaxPayloadBytes)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}
