package route

import (
	"encoding/json"
	"testing"

	"github.com/eventide/eventide/pkg/kube/event"

	corev1 "k8s.io/api/core/v1"
)

// FuzzEventJSON: any Event the API server could hand us routes without
// panicking.
func FuzzEventJSON(f *testing.F) {
	f.Add([]byte(`{"metadata":{"name":"a","namespace":"b"},"involvedObject":{"kind":"Pod","name":"p"},"reason":"BackOff","type":"Warning","count":2}`))
	f.Add([]byte(`{"series":{"count":7},"eventTime":"2026-01-01T00:00:00.000000Z"}`))
	f.Add([]byte(`{}`))
	tree := func() *Tree {
		t, errs := Compile(&Config{Routes: []Config{
			{Drop: []Rule{{Namespace: "^kube-"}}, Match: []Rule{{Labels: map[string]string{"owner": ""}, MinCount: 2, Receiver: "a"}}},
			{Match: []Rule{{Kind: "Pod", Not: &Rule{Reason: "Pulled"}, Receiver: "b"}}},
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
