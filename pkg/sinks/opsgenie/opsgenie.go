// Package opsgenie opens or updates an Opsgenie alert per event.
package opsgenie

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eventide/eventide/pkg/sinks"

	"github.com/eventide/eventide/pkg/kube/event"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/opsgenie/opsgenie-go-sdk-v2/alert"
	ogclient "github.com/opsgenie/opsgenie-go-sdk-v2/client"
	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"
)

// Opsgenie's documented field limits; longer values are cut, not refused.
const (
	ogMaxMessage     = 130
	ogMaxAlias       = 512
	ogMaxDescription = 15000
	ogMaxTags        = 20
	ogMaxTagLen      = 50
	ogMaxDetails     = 8000 // keys and values together
	ogMaxEntity      = 512
	ogMaxSource      = 100
	ogMaxNote        = 25000
	ogMaxResponders  = 50
)

var ogPriorityRE = regexp.MustCompile(`^P[1-5]$`)

// Config opens (or, by alias, updates) an Opsgenie alert per event.
type Config struct {
	APIKey      sinks.Secret      `yaml:"apiKey"`
	URL         string            `yaml:"URL"` // api.opsgenie.com (default), api.eu.opsgenie.com, …
	Priority    string            `yaml:"priority" tmpl:"true"`
	Message     string            `yaml:"message" tmpl:"true"`
	Alias       string            `yaml:"alias" tmpl:"true"`
	Description string            `yaml:"description" tmpl:"true"`
	Tags        []string          `yaml:"tags" tmpl:"true"`
	Details     map[string]string `yaml:"details" tmpl:"true"`
	Responders  []Responder       `yaml:"responders"`
	Entity      string            `yaml:"entity" tmpl:"true"`
	Source      string            `yaml:"source" tmpl:"true"` // default "eventide"
	Note        string            `yaml:"note" tmpl:"true"`
}

// Responder is a team, user, escalation or schedule to notify.
type Responder struct {
	Type     string `yaml:"type"`
	Name     string `yaml:"name"`
	ID       string `yaml:"id"`
	Username string `yaml:"username"`
}

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	if c.APIKey == "" {
		errs = append(errs, fmt.Errorf("%s.apiKey: required", path))
	}
	host, err := opsgenieHost(c.URL)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s.URL: %w", path, err))
	}
	s := &opsgenieSink{log: deps.Log, badPriority: map[string]bool{}}
	errs = append(errs, sinks.ParseFields(path,
		sinks.Field("priority", c.Priority, "", &s.priority), sinks.Field("message", c.Message, sinks.DefaultAlertMessage, &s.message),
		sinks.Field("alias", c.Alias, sinks.DefaultAlertAlias, &s.alias), sinks.Field("description", c.Description, "", &s.description),
		sinks.Field("entity", c.Entity, "", &s.entity), sinks.Field("source", c.Source, "eventide", &s.source),
		sinks.Field("note", c.Note, "", &s.note)))
	for i, text := range c.Tags {
		tm, err := sinks.ParseTemplate(text)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.tags[%d]: %w", path, i, err))
			continue
		}
		s.tags = append(s.tags, tm)
	}
	details, err := sinks.ParseTemplateMap(path+".details", c.Details)
	errs = append(errs, err)
	s.details = details
	if len(c.Responders) > ogMaxResponders {
		errs = append(errs, fmt.Errorf("%s.responders: %d given, Opsgenie takes at most %d", path, len(c.Responders), ogMaxResponders))
	}
	for i, r := range c.Responders {
		p := fmt.Sprintf("%s.responders[%d]", path, i)
		switch alert.ResponderType(r.Type) {
		case alert.TeamResponder, alert.EscalationResponder, alert.ScheduleResponder:
			if r.Name == "" && r.ID == "" {
				errs = append(errs, fmt.Errorf("%s: a %s needs name or id", p, r.Type))
			}
		case alert.UserResponder:
			if r.Username == "" && r.ID == "" {
				errs = append(errs, fmt.Errorf("%s: a user needs username or id", p))
			}
		default:
			errs = append(errs, fmt.Errorf("%s.type: %q: use team, user, escalation or schedule", p, r.Type))
		}
		s.responders = append(s.responders, alert.Responder{Type: alert.ResponderType(r.Type), Name: r.Name, Id: r.ID, Username: r.Username})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	quiet := logrus.New()
	quiet.SetOutput(io.Discard) // the SDK logs through logrus; eventide logs the outcome itself
	client, err := alert.NewClient(&ogclient.Config{
		ApiKey:         c.APIKey.Value(),
		OpsGenieAPIURL: ogclient.ApiUrl(host),
		HttpClient:     sinks.NewHTTPClient(nil),
		Logger:         quiet,
		// The receiver runtime retries; the SDK must not retry on its own.
		RetryPolicy: func(context.Context, *http.Response, error) (bool, error) { return false, nil },
		Backoff:     retryablehttp.DefaultBackoff,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.client = client
	return s, nil
}

// opsgenieHost reduces URL to the host the SDK wants. The SDK speaks plain
// HTTP to any host without "api" in its name, which would send the API key
// in the clear, so such a host is refused unless it is loopback.
func opsgenieHost(u string) (string, error) {
	host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://"), "/")
	if host == "" {
		return string(ogclient.API_URL), nil
	}
	if strings.ContainsAny(host, "/?#") {
		return "", errors.New("give the API host only (api.opsgenie.com or api.eu.opsgenie.com), no path or query")
	}
	if !strings.Contains(host, "api") {
		if !sinks.IsLoopback(host) {
			return "", errors.New("the Opsgenie client would use plain HTTP for a host without \"api\" in its name; use api.opsgenie.com or api.eu.opsgenie.com")
		}
	}
	return host, nil
}

type opsgenieSink struct {
	client                                                      *alert.Client
	priority, message, alias, description, entity, source, note *sinks.Template
	tags                                                        []*sinks.Template
	details                                                     *sinks.TemplateMap
	responders                                                  []alert.Responder
	log                                                         zerolog.Logger

	mu          sync.Mutex
	badPriority map[string]bool // logged once each
	slashAlias  sync.Once
}

func (s *opsgenieSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	_, err := s.Post(ctx, ev)
	return err
}

// Post creates the alert; the reference is its alias. A grouped
// notification carries the group's count and last occurrence as details.
func (s *opsgenieSink) Post(ctx context.Context, ev *event.EnhancedEvent) (string, error) {
	req, err := s.request(ev)
	if err != nil {
		return "", err
	}
	if ev.Group != nil {
		if req.Details == nil {
			req.Details = map[string]string{}
		}
		maps.Copy(req.Details, groupDetails(ev.Group))
	}
	_, err = s.client.Create(ctx, req)
	return req.Alias, classifyOpsgenie(err)
}

// Update brings the alert with alias ref up to date with a grouped
// notification: created again with the same alias (Opsgenie then counts
// the occurrence and moves its last-occurred time, on the one alert),
// and its details set to the group's count and last occurrence. A group
// gone quiet only updates the details. The details are addressed by alias
// in the URL path, where the SDK cannot carry a "/": such an alias (the
// default's) gets the create only, and a warning once.
func (s *opsgenieSink) Update(ctx context.Context, ref string, ev *event.EnhancedEvent) error {
	if ev.Group == nil || ev.Group.Status != "quiet" {
		if _, err := s.Post(ctx, ev); err != nil {
			return err
		}
	}
	if ev.Group == nil {
		return nil
	}
	if strings.Contains(ref, "/") {
		s.slashAlias.Do(func() {
			s.log.Warn().Msg("opsgenie alias contains '/': a group's count is not updated on the alert (Opsgenie still counts each update); use an alias without '/', such as '{{ .InvolvedObject.UID }}-{{ .Reason }}'")
		})
		return nil
	}
	_, err := s.client.AddDetails(ctx, &alert.AddDetailsRequest{IdentifierType: alert.ALIAS,
		IdentifierValue: ref, Details: groupDetails(ev.Group), Source: "eventide"})
	return classifyOpsgenie(err)
}

// groupDetails are the alert details a group's notification sets.
func groupDetails(g *event.Group) map[string]string {
	return map[string]string{"groupCount": strconv.FormatInt(g.Count, 10),
		"lastSeen": g.LastSeen.UTC().Format(time.RFC3339), "groupStatus": g.Status}
}

func (s *opsgenieSink) Preview(ev *event.EnhancedEvent) (any, error) { return s.request(ev) }

// request is the alert ev creates.
func (s *opsgenieSink) request(ev *event.EnhancedEvent) (*alert.CreateAlertRequest, error) {
	r := sinks.Renderer{Event: ev}
	req := &alert.CreateAlertRequest{
		Message:     sinks.TruncateRunes(strings.TrimSpace(r.Render("message", s.message)), ogMaxMessage),
		Alias:       sinks.TruncateRunes(r.Render("alias", s.alias), ogMaxAlias),
		Description: sinks.TruncateRunes(r.Render("description", s.description), ogMaxDescription),
		Entity:      sinks.TruncateRunes(r.Render("entity", s.entity), ogMaxEntity),
		Source:      sinks.TruncateRunes(r.Render("source", s.source), ogMaxSource),
		Note:        sinks.TruncateRunes(r.Render("note", s.note), ogMaxNote),
		Priority:    s.priorityOf(strings.TrimSpace(r.Render("priority", s.priority))),
		Responders:  s.responders,
	}
	for i, t := range s.tags {
		if len(req.Tags) == ogMaxTags {
			break
		}
		if tag := strings.TrimSpace(r.Render(fmt.Sprintf("tags[%d]", i), t)); tag != "" {
			req.Tags = append(req.Tags, sinks.TruncateRunes(tag, ogMaxTagLen))
		}
	}
	details, err := s.details.Render(ev)
	if err != nil && r.Err == nil {
		r.Err = fmt.Errorf("details.%w", err)
	}
	if r.Err != nil {
		return nil, r.Err
	}
	if req.Message == "" {
		return nil, sinks.Permanent(sinks.ClassTemplate, errors.New("message rendered empty; Opsgenie requires one"))
	}
	if len(details) > 0 {
		req.Details = map[string]string{}
		budget := ogMaxDetails
		for _, kv := range details {
			if budget <= len(kv[0]) {
				break
			}
			v := sinks.TruncateRunes(kv[1], budget-len(kv[0]))
			req.Details[kv[0]] = v
			budget -= len(kv[0]) + len(v)
		}
	}
	return req, nil
}

// priorityOf validates a rendered priority: P1–P5, else P3 (logged once per
// value) rather than losing the alert.
func (s *opsgenieSink) priorityOf(p string) alert.Priority {
	if p == "" {
		return alert.P3
	}
	if ogPriorityRE.MatchString(p) {
		return alert.Priority(p)
	}
	s.mu.Lock()
	seen := s.badPriority[p]
	if !seen && len(s.badPriority) < 100 {
		s.badPriority[p] = true
	}
	s.mu.Unlock()
	if !seen {
		s.log.Warn().Str("priority", sinks.TruncateRunes(p, 40)).Msg("opsgenie priority rendered outside P1-P5; sending P3")
	}
	return alert.P3
}

func (s *opsgenieSink) Close() error { return nil }

func classifyOpsgenie(err error) error {
	if err == nil {
		return nil
	}
	var ae *ogclient.ApiError
	if errors.As(err, &ae) {
		switch {
		case ae.StatusCode == 429:
			return sinks.Retryable(sinks.ClassRateLimited, err, 0)
		case ae.StatusCode >= 500 || ae.StatusCode == 408:
			return sinks.Retryable(sinks.ClassHTTP5xx, err, 0)
		case ae.StatusCode >= 400:
			return sinks.Permanent(sinks.ClassHTTP4xx, err)
		}
	}
	return sinks.TransportError(err)
}

// Send and Preview build the request with the same code.
var (
	_ sinks.Previewer = (*opsgenieSink)(nil)
	_ sinks.Updater   = (*opsgenieSink)(nil)
)
