package kafka

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// startKafka is kfake, the real protocol in-process, with topic "events"
// (3 partitions).
func startKafka(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(3, "events")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// consume reads n records of topic from the start, with a plain client.
func consume(t *testing.T, c *kfake.Cluster, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("events"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records: %v", len(got), n, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}
	return got
}

func podEvent(pod, uid string, count int32) *event.EnhancedEvent {
	ev := &event.EnhancedEvent{}
	ev.Name, ev.Namespace, ev.Reason, ev.Type, ev.Count = fmt.Sprintf("%s.%d", pod, count), "shop", "BackOff", "Warning", count
	ev.InvolvedObject.Kind, ev.InvolvedObject.Name, ev.InvolvedObject.UID = "Pod", pod, typesUID(uid)
	return ev
}

// Each record is keyed by its object's UID, so one object's events are in
// one partition, in order; the value is the layout.
func TestRecordsKeyedAndOrderedPerObject(t *testing.T) {
	for _, codec := range []string{"none", "snappy", "gzip", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			c := startKafka(t)
			s := sinktest.MustBuild(t, &Config{}, fmt.Sprintf(`kafka:
  topic: events
  brokers: [%s]
  compressionCodec: %s
  layout:
    name: "{{ .Name }}"
    count: !int "{{ .GetCount }}"
`, c.ListenAddrs()[0], codec))
			var evs []*event.EnhancedEvent
			for i := int32(1); i <= 4; i++ {
				evs = append(evs, podEvent("a", "uid-a", i), podEvent("b", "uid-b", i))
			}
			sinktest.MustSendBatch(t, s, evs...)
			recs := consume(t, c, len(evs))
			last := map[string]int32{}
			partition := map[string]int32{}
			for _, r := range recs {
				k := string(r.Key)
				if p, ok := partition[k]; ok && p != r.Partition {
					t.Errorf("key %s in partitions %d and %d", k, p, r.Partition)
				}
				partition[k] = r.Partition
				if len(r.Headers) != 1 || r.Headers[0].Key != "idempotency-key" || len(r.Headers[0].Value) != 32 {
					t.Errorf("record headers %v: want the idempotency key", r.Headers)
				}
				var v struct {
					Name  string
					Count int32
				}
				if err := json.Unmarshal(r.Value, &v); err != nil || v.Name == "" {
					t.Fatalf("value %s: %v", r.Value, err)
				}
				n := v.Count
				if n != last[k]+1 {
					t.Errorf("key %s: count %d after %d: out of order", k, n, last[k])
				}
				last[k] = n
			}
			if len(last) != 2 || last["uid-a"] != 4 || last["uid-b"] != 4 {
				t.Errorf("read %v, want 4 records per object keyed by UID", last)
			}
		})
	}
}

func TestSASL(t *testing.T) {
	for _, m := range []struct{ key, kafka string }{{"plain", "PLAIN"}, {"sha256", "SCRAM-SHA-256"}, {"sha512", "SCRAM-SHA-512"}} {
		t.Run(m.key, func(t *testing.T) {
			c := startKafka(t, kfake.EnableSASL(), kfake.Superuser(m.kafka, "eventide", "s3cret"))
			cfg := `kafka:
  topic: events
  brokers: [%s]
  sasl: {enable: true, mechanism: %s, username: eventide, password: %s}
`
			s := sinktest.MustBuild(t, &Config{}, fmt.Sprintf(cfg, c.ListenAddrs()[0], m.key, "s3cret"))
			sinktest.MustSendBatch(t, s, podEvent("a", "uid-a", 1))
			bad := sinktest.MustBuild(t, &Config{}, fmt.Sprintf(cfg, c.ListenAddrs()[0], m.key, "wrong"))
			// Retried (a rotated secret fixes it; nothing is lost), and the
			// error says connecting fails (kfake closes the connection on a
			// bad password; a real broker's error names SASL).
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			err := bad.Send(ctx, podEvent("a", "uid-a", 2))
			if err == nil || !strings.Contains(err.Error(), "connecting to a broker fails") {
				t.Errorf("a wrong password: %v, want an error saying connecting fails", err)
			}
		})
	}
}

// The old avro option: Confluent's wire format, readable with the schema.
func TestAvroWireFormat(t *testing.T) {
	const schema = `{"type":"record","name":"Event","fields":[{"name":"reason","type":"string"},{"name":"count","type":"long"}]}`
	c := startKafka(t)
	s := sinktest.MustBuild(t, &Config{}, fmt.Sprintf(`kafka:
  topic: events
  brokers: [%s]
  avro:
    schemaID: 42
    schema: '%s'
  layout:
    reason: "{{ .Reason }}"
    count: !int "{{ .GetCount }}"
`, c.ListenAddrs()[0], schema))
	sinktest.MustSendBatch(t, s, podEvent("a", "uid-a", 7))
	v := consume(t, c, 1)[0].Value
	if v[0] != 0 || binary.BigEndian.Uint32(v[1:5]) != 42 {
		t.Fatalf("header % x: want magic 0 and schema ID 42", v[:5])
	}
	codec, _ := goavro.NewCodec(schema)
	native, _, err := codec.NativeFromBinary(v[5:])
	if err != nil {
		t.Fatal(err)
	}
	if m := native.(map[string]any); m["reason"] != "BackOff" || m["count"] != int64(7) {
		t.Errorf("decoded %v", m)
	}
	// A payload the schema refuses is permanent: retrying cannot fix it.
	bad := sinktest.MustBuild(t, &Config{}, fmt.Sprintf("kafka: {topic: events, brokers: [%s], avro: {schemaID: 1, schema: '%s'}}", c.ListenAddrs()[0], schema))
	if class, retry, _ := sinks.Classify(bad.Send(context.Background(), podEvent("a", "uid-a", 1))); class != "template" || retry {
		t.Errorf("a whole event against a 2-field schema: %s retryable=%v, want a permanent template error", class, retry)
	}
}

// No broker: the send gives up when its deadline ends, retryably, instead
// of waiting for ever.
func TestNoBrokerTimesOut(t *testing.T) {
	s := sinktest.MustBuild(t, &Config{}, "kafka: {topic: events, brokers: [127.0.0.1:1]}")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := s.Send(ctx, podEvent("a", "uid-a", 1))
	if class, retry, _ := sinks.Classify(err); class != "timeout" || !retry {
		t.Errorf("%v: %s retryable=%v, want a retryable timeout", err, class, retry)
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := sinktest.Build(t, &Config{}, `kafka: {compressionCodec: brotli, acks: none, sasl: {enable: true, mechanism: kerberos}, tls: {caFile: /x}}`)
	for _, want := range []string{".topic: required", ".brokers: required", `compressionCodec: "brotli"`, `acks: "none"`,
		"sasl.username: required", "tls: files are set but enable is false"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	_, err = sinktest.Build(t, &Config{}, `kafka: {topic: t, brokers: [b:9092], avro: {schemaID: 1, schema: "{nope"}}`)
	if err == nil || !strings.Contains(err.Error(), "avro.schema") {
		t.Errorf("bad schema: %v", err)
	}
}

func typesUID(s string) types.UID { return types.UID(s) }

// BenchmarkSendBatch: batches of 100 events to kfake (in-process, so its
// CPU is in the figure too).
func BenchmarkSendBatch(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "events"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s := sinktest.MustBuild(b, &Config{}, fmt.Sprintf("kafka: {topic: events, brokers: [%s], layout: {name: '{{ .Name }}', reason: '{{ .Reason }}'}}", c.ListenAddrs()[0]))
	evs := make([]*event.EnhancedEvent, 100)
	for i := range evs {
		evs[i] = podEvent(fmt.Sprintf("p%d", i%10), fmt.Sprintf("uid-%d", i%10), int32(i+1))
	}
	sinktest.BenchSendBatch(b, s, func(int) []*event.EnhancedEvent { return evs })
}
