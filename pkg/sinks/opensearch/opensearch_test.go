package opensearch

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// The opensearch-go client sends the same _bulk, with basic auth.
func TestBulkWithTheOpenSearchClient(t *testing.T) {
	srv := testenv.NewSearchServer()
	defer srv.Close()
	srv.Reject = func(src []byte) int {
		if strings.Contains(string(src), "poison") {
			return 400
		}
		return 0
	}
	s := sinktest.MustBuild(t, &Config{}, fmt.Sprintf("opensearch: {hosts: [%s], username: admin, password: admin, indexFormat: 'kube-{2006.01}', deDot: true}", srv.URL))
	var evs []*event.EnhancedEvent
	for _, name := range []string{"a", "poison", "b"} {
		ev := &event.EnhancedEvent{}
		ev.Name, ev.UID, ev.Count = name, types.UID("uid-"+name), 1
		ev.InvolvedObject.Labels = map[string]string{"app.kubernetes.io/name": "x"}
		evs = append(evs, ev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := s.(sinks.BatchSink).SendBatch(ctx, evs)
	if errs[0] != nil || errs[2] != nil || errs[1] == nil {
		t.Fatalf("results %v: want the poison item alone to fail", errs)
	}
	keys, docs := srv.Docs()
	if len(keys) != 2 || !strings.HasPrefix(keys[0], "kube-") || !strings.Contains(string(docs[keys[0]]), `"app_kubernetes_io/name"`) {
		t.Errorf("documents %v: %s", keys, docs[keys[0]])
	}
	if _, auth := srv.Bulks(); !strings.HasPrefix(auth[0], "Basic ") {
		t.Errorf("authorization %q", auth)
	}
}
