package sinks

import (
	"bytes"
	"testing"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/pkg/kube/event"
)

// The fast path must print exactly what text/template prints, and step
// aside where text/template would do something else.
func TestFastPathMatchesTextTemplate(t *testing.T) {
	bare := testenv.SampleEvent()
	bare.InvolvedObject.Workload = nil
	bare.InvolvedObject.Labels = nil
	events := map[string]*event.EnhancedEvent{"full": testenv.SampleEvent(), "bare": bare}
	for _, tc := range []struct {
		text string
		fast bool
	}{
		{"{{ .Reason }}", true},
		{"#{{ .InvolvedObject.Labels.owner }}-alerts", true},
		{"{{ .InvolvedObject.Labels.nope }}", true},
		{"{{ .Name }} {{ .Namespace }} {{ .InvolvedObject.Name }} {{ .InvolvedObject.UID }}", true},
		{"{{ .Count }} {{ .GetCount }} {{ .GetTimestampMs }} {{ .GetTimestampISO8601 }}", true},
		{"{{ .InvolvedObject.Deleted }} {{ .ClusterName }} {{ .Source.Host }}", true},
		{"{{ .InvolvedObject.Workload.Name }}", true}, // nil on "bare": text/template's error
		{"{{ .LastTimestamp }}", false},               // has a String method
		{"{{ .InvolvedObject.Labels }}", false},       // a map
		{"{{ .Reason | lower }}", false},
		{"{{ with .InvolvedObject.Workload }}{{ .Name }}{{ end }}", true},
		{"{{ with .InvolvedObject.Workload }}{{ .Kind }}/{{ .Name }}{{ else }}none ({{ .Reason }}){{ end }}", true},
		{"{{ with .InvolvedObject.Labels.owner }}#{{ . }}-alerts{{ else }}#ops{{ end }}", true},
		{"{{ if .InvolvedObject.Deleted }}deleted {{ end }}{{ if .GetCount }}×{{ .GetCount }}{{ end }}", true},
		{"{{ if .InvolvedObject.Labels }}labelled{{ else if .Message }}{{ .Message }}{{ end }}", true},
		{"{{ with .InvolvedObject }}{{ with .Workload }}{{ .Name }}{{ end }}{{ end }}", true},
		{"{{ with .InvolvedObject.Workload }}{{ .Name | upper }}{{ end }}", false},
		{"{{ with .InvolvedObject.Workload }}{{ . }}{{ end }}", false}, // a pointer: fmt prints it
		{"{{ with .LastTimestamp }}{{ .Year }}{{ end }}", false},       // a method on a value
		{"{{ range .InvolvedObject.OwnerReferences }}{{ .Name }}{{ end }}", false},
		{"{{ $x := .Reason }}{{ $x }}", false},
	} {
		tm, err := ParseTemplate(tc.text)
		if err != nil {
			t.Fatal(err)
		}
		if got := tm.fast != nil; got != tc.fast {
			t.Errorf("%s: fast path %v, want %v", tc.text, got, tc.fast)
		}
		for name, ev := range events {
			var want bytes.Buffer
			werr := tm.tmpl.Execute(&want, ev)
			got, gerr := tm.Render(ev)
			if (werr != nil) != (gerr != nil) || (werr == nil && got != want.String()) {
				t.Errorf("%s on %s: fast %q (%v), text/template %q (%v)", tc.text, name, got, gerr, want.String(), werr)
			}
		}
	}
}
