package exporter

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/eventide/eventide/pkg/kube/event"

	corev1 "k8s.io/api/core/v1"
)

// FuzzLoad: no input crashes the loader; it loads or returns a ConfigError.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Load(data, testLoadOptions(map[string]string{"WEBHOOK_KEY": "k", "SLACK_TOKEN": "t"}))
		if err == nil {
			l.Close()
		}
	})
}

// FuzzEventJSON: any Event the API server could hand us routes without
// panicking.
func FuzzEventJSON(f *testing.F) {
	f.Add([]byte(`{"metadata":{"name":"a","namespace":"b"},"involvedObject":{"kind":"Pod","name":"p"},"reason":"BackOff","type":"Warning","count":2}`))
	f.Add([]byte(`{"series":{"count":7},"eventTime":"2026-01-01T00:00:00.000000Z"}`))
	f.Add([]byte(`{}`))
	tree := func() *Tree {
		t, errs := compileTree(&RouteConfig{Routes: []RouteConfig{
			{Drop: []RuleConfig{{Namespace: "^kube-"}}, Match: []RuleConfig{{Labels: map[string]string{"owner": ""}, MinCount: 2, Receiver: "a"}}},
			{Match: []RuleConfig{{Kind: "Pod", Not: &RuleConfig{Reason: "Pulled"}, Receiver: "b"}}},
		}}, testReceivers)
		if len(errs) > 0 {
			f.Fatal(errs)
		}
		return t
	}()
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev corev1.Event
		if json.Unmarshal(data, &ev) != nil {
			return
		}
		e := event.NewEnhancedEvent(&ev, "c")
		tree.Match(e, nil, nil)
		_ = e.GetTimestampISO8601()
		_ = e.GetLastTime()
		if _, err := e.ToJSON(); err != nil {
			t.Fatal(err)
		}
	})
}
