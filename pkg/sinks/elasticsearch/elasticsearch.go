// Package elasticsearch bulk-indexes events into Elasticsearch with the
// official client (go-elasticsearch): node selection, the product check,
// Elastic Cloud IDs and API keys. The bulk rules are in pkg/sinks/search.
package elasticsearch

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/eventide/eventide/pkg/sinks"
	"github.com/eventide/eventide/pkg/sinks/search"
)

// Config is the old tool's elasticsearch keys.
type Config struct {
	search.Config `yaml:",inline"`
	CloudID       string            `yaml:"cloudID"`
	APIKey        sinks.Secret      `yaml:"apiKey"`
	Headers       map[string]string `yaml:"headers"`
}

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	if len(c.Hosts) == 0 && c.CloudID == "" {
		errs = append(errs, fmt.Errorf("%s.hosts: required (one URL or more), or cloudID", path))
	}
	t, err := c.Transport(path, deps, c.APIKey != "")
	errs = append(errs, err)
	header := http.Header{}
	for k, v := range c.Headers {
		header.Set(k, v)
	}
	var perform search.Perform
	if err == nil && (len(c.Hosts) > 0 || c.CloudID != "") {
		cfg := elasticsearch.Config{Username: c.Username, Password: c.Password.Value(), CloudID: c.CloudID,
			APIKey: c.APIKey.Value(), Header: header, Transport: t, DisableRetry: true}
		if c.CloudID == "" {
			cfg.Addresses = c.Hosts
		}
		client, cerr := elasticsearch.NewClient(cfg)
		if cerr != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, cerr))
		} else {
			perform = client.Perform
		}
	}
	s, err := c.Config.Build(path, perform, deps.MaxPayloadBytes)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}
