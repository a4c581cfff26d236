package webhook

import (
	"fmt"
	"net/url"

	"gopkg.in/yaml.v3"
)

// Presets fill a webhook in for a known service: its endpoint, its
// credential header and a layout it reads. Keys set by hand win.
const PresetHoneycomb = "honeycomb"

// honeycombLayout is one flat Honeycomb event per Kubernetes event: every
// column queryable, no nested JSON.
const honeycombLayout = `
cluster: "{{ .ClusterName }}"
namespace: "{{ .InvolvedObject.Namespace }}"
kind: "{{ .InvolvedObject.Kind }}"
name: "{{ .InvolvedObject.Name }}"
workload: "{{ with .InvolvedObject.Workload }}{{ .Kind }}/{{ .Name }}{{ end }}"
reason: "{{ .Reason }}"
type: "{{ .Type }}"
class: "{{ .Class }}"
message: "{{ .Message }}"
count: !int "{{ .GetCount }}"
component: "{{ .Source.Component }}"
host: "{{ .Source.Host }}"
event_id: "{{ .EventID }}"
`

// applyPreset fills c in for its preset; errors name path.
func (c *Config) applyPreset(path string) error {
	switch c.Preset {
	case "":
		if c.Dataset != "" || c.APIKey != "" {
			return fmt.Errorf("%s: dataset and apiKey are for a preset (preset: honeycomb)", path)
		}
		return nil
	case PresetHoneycomb:
	default:
		return fmt.Errorf("%s.preset: %q: the one preset is honeycomb", path, c.Preset)
	}
	if c.Dataset == "" || c.APIKey == "" {
		return fmt.Errorf("%s: preset honeycomb needs dataset and apiKey", path)
	}
	if c.Endpoint == "" {
		c.Endpoint = "https://api.honeycomb.io/1/events/" + url.PathEscape(c.Dataset)
	}
	headers := map[string]string{"X-Honeycomb-Team": c.APIKey.Value(), "X-Honeycomb-Event-Time": `{{ .GetLastTime.UTC.Format "2006-01-02T15:04:05.000Z07:00" }}`}
	for k, v := range c.Headers {
		headers[k] = v
	}
	c.Headers = headers
	if c.Layout.Kind == 0 {
		if err := yaml.Unmarshal([]byte(honeycombLayout), &c.Layout); err != nil {
			return err
		}
		c.Layout = *c.Layout.Content[0]
	}
	return nil
}
