package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv/kubeenv"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Events from the cluster reach Kafka (kfake, the real protocol) once
// each, keyed by their pod's UID, in order per pod, with the pod's labels.
func TestKafkaReceiver(t *testing.T) {
	ns := "e2e-kafka"
	w := setupNamespace(t, ns)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "k8s-events"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	receiver := fmt.Sprintf(`  - name: kafka
    kafka:
      topic: k8s-events
      brokers: [%s]
      compressionCodec: zstd
      layout:
        name: "{{ .Name }}"
        count: !int "{{ .GetCount }}"
        owner: '{{ index .InvolvedObject.Labels "owner" }}'
`, c.ListenAddrs()[0])
	config := fmt.Sprintf("namespace: %s\nroute:\n  match:\n    - receiver: kafka\nreceivers:\n%s", ns, receiver)
	startEventide(t, config)
	const perPod = 5
	var names []string
	for i := 0; i < perPod; i++ {
		for p, pod := range w.Pods {
			ev := createEvent(t, kubeenv.PodEvent(pod, fmt.Sprintf("kafka-%d-%d", p, i), "Warning", "BackOff", "Back-off"))
			names = append(names, ev.Name)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("k8s-events"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(waitCtx(t), time.Minute)
	defer cancel()
	seen := map[string]int{}
	lastPerKey := map[string]string{}
	for n := 0; n < len(names); {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records: %v", n, len(names), ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			var v struct{ Name, Owner string }
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Errorf("record %s: %v", r.Value, err)
				return
			}
			seen[v.Name]++
			if v.Owner != "team-"+ns {
				t.Errorf("%s: owner %q, want the pod's label", v.Name, v.Owner)
			}
			if prev := lastPerKey[string(r.Key)]; prev != "" && prev > v.Name {
				t.Errorf("key %s: %s after %s", r.Key, v.Name, prev)
			}
			lastPerKey[string(r.Key)] = v.Name
		})
	}
	for _, name := range names {
		if seen[name] != 1 {
			t.Errorf("%s delivered %d times", name, seen[name])
		}
	}
	if len(lastPerKey) != len(w.Pods) {
		t.Errorf("%d keys, want one per pod (its UID)", len(lastPerKey))
	}
}
