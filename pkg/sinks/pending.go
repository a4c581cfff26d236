package sinks

import (
	"context"
	"errors"
	"fmt"

	"github.com/eventide/eventide/pkg/kube"
)

// The Opsgenie receiver is configured, validated and
// routed to today, so users' files load and their templates are checked; the
// delivery itself comes with the receivers issue. Until then each send is a
// counted, non-retryable "unsupported" failure, and start-up logs a warning.

// OpsgenieConfig opens an Opsgenie alert per event.
type OpsgenieConfig struct {
	APIKey      Secret            `yaml:"apiKey"`
	URL         string            `yaml:"URL"`
	Priority    string            `yaml:"priority"`
	Message     string            `yaml:"message"`
	Alias       string            `yaml:"alias"`
	Description string            `yaml:"description"`
	Tags        []string          `yaml:"tags"`
	Details     map[string]string `yaml:"details"`
}

func (c *OpsgenieConfig) build(path string, _ Deps) (Sink, error) {
	var errs []error
	if c.APIKey == "" {
		errs = append(errs, fmt.Errorf("%s.apiKey: required", path))
	}
	errs = append(errs, parseAll(path, map[string]string{
		"priority": c.Priority, "message": c.Message, "alias": c.Alias, "description": c.Description,
	}))
	for i, t := range c.Tags {
		if _, err := ParseTemplate(t); err != nil {
			errs = append(errs, fmt.Errorf("%s.tags[%d]: %w", path, i, err))
		}
	}
	_, err := ParseTemplateMap(path+".details", c.Details)
	errs = append(errs, err)
	return unsupported("opsgenie"), errors.Join(errs...)
}

func parseAll(path string, texts map[string]string) error {
	var errs []error
	for _, k := range sortedKeys(texts) {
		if _, err := ParseTemplate(texts[k]); err != nil {
			errs = append(errs, fmt.Errorf("%s.%s: %w", path, k, err))
		}
	}
	return errors.Join(errs...)
}

// Unsupported is implemented by sinks that accept configuration but do not
// deliver yet; the runtime warns about them at start.
type Unsupported interface{ Unsupported() string }

type unsupportedSink struct{ kind string }

func unsupported(kind string) *unsupportedSink { return &unsupportedSink{kind: kind} }

func (s *unsupportedSink) Unsupported() string { return s.kind }

func (s *unsupportedSink) Send(context.Context, *kube.EnhancedEvent) error {
	return Permanent("unsupported", fmt.Errorf("the %s receiver does not deliver yet in this version of eventide", s.kind))
}

func (s *unsupportedSink) Close() error { return nil }
