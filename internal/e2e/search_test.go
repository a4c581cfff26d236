package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

// Events from the cluster reach Elasticsearch (its wire format, spoken by
// the official client) and OpenSearch, once each, one document per
// occurrence: a repeat is a new document, a re-send would overwrite.
func TestSearchReceivers(t *testing.T) {
	ns := "e2e-search"
	w := setupNamespace(t, ns)
	es, os := testenv.NewSearchServer(), testenv.NewSearchServer()
	defer es.Close()
	defer os.Close()
	layout := `      layout:
        name: "{{ .Name }}"
        owner: '{{ index .InvolvedObject.Labels "owner" }}'
        count: !int "{{ .GetCount }}"
`
	startEventide(t, fmt.Sprintf(`namespace: %s
route:
  match:
    - receiver: es
    - receiver: os
receivers:
  - name: es
    elasticsearch:
      hosts: [%s]
      indexFormat: "kube-events-{2006.01.02}"
      flushInterval: 100ms
%s  - name: os
    opensearch:
      hosts: [%s]
      index: kube-events
      opType: create
      flushInterval: 100ms
%s`, ns, es.URL, layout, os.URL, layout))
	const n = 8
	var last = createEvent(t, kubeenv.PodEvent(w.Pods[0], "search-0", "Warning", "BackOff", "Back-off"))
	for i := 1; i < n; i++ {
		createEvent(t, kubeenv.PodEvent(w.Pods[i%len(w.Pods)], fmt.Sprintf("search-%d", i), "Warning", "BackOff", "Back-off"))
	}
	if _, err := cluster.Repeat(waitCtx(t), last); err != nil {
		t.Fatal(err)
	}
	for name, srv := range map[string]*testenv.SearchServer{"elasticsearch": es, "opensearch": os} {
		var keys []string
		err := testenv.PollUntil(waitCtx(t), 20*time.Millisecond, func() bool {
			keys, _ = srv.Docs()
			return len(keys) >= n+1
		})
		if err != nil {
			t.Fatalf("%s: %d documents of %d", name, len(keys), n+1)
		}
		_, docs := srv.Docs()
		for _, k := range keys {
			if !strings.Contains(string(docs[k]), `"owner":"team-`+ns+`"`) {
				t.Errorf("%s: %s = %s: no owner label", name, k, docs[k])
			}
		}
		if len(keys) != n+1 {
			t.Errorf("%s: %d documents, want %d (one per occurrence)", name, len(keys), n+1)
		}
	}
}
