package s3

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

func fake(t *testing.T) *testenv.S3Fake {
	t.Helper()
	testenv.SetAWSTestEnv(t)
	f, err := testenv.NewS3Fake("archive")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

func build(t testing.TB, f *testenv.S3Fake, extra string) sinks.Sink {
	return sinktest.MustBuild(t, &Config{}, `s3: {bucket: archive, region: eu-west-1, endpoint: '`+f.URL+`', forcePathStyle: true`+extra+`}`)
}

// events are n events with resourceVersions 101…
func events(n int) []*event.EnhancedEvent {
	evs := testenv.SampleEvents(n)
	for i, ev := range evs {
		ev.ResourceVersion = fmt.Sprint(101 + i)
	}
	return evs
}

// A batch is one gzip object of JSON lines, the whole events in order,
// under the first event's Hive partition, named by its first and last
// resourceVersion and content hash; application/gzip without
// Content-Encoding. Sending the same batch again writes the same key.
func TestObjectPerBatch(t *testing.T) {
	f := fake(t)
	s := build(t, f, "")
	evs := events(3)
	sinktest.MustSendBatch(t, s, evs...)
	sinktest.MustSendBatch(t, s, evs...) // a retry after a lost answer
	keys, objects, err := f.Objects()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !regexp.MustCompile(`^kubernetes-events/year=2026/month=11/day=21/hour=10/101-103-[0-9a-f]{16}\.jsonl\.gz$`).MatchString(keys[0]) {
		t.Fatalf("keys %v", keys)
	}
	lines := strings.Split(strings.TrimSuffix(string(objects[keys[0]]), "\n"), "\n")
	for i, l := range lines {
		var got struct {
			Metadata struct{ Name, ResourceVersion string }
			EventID  string
		}
		if err := json.Unmarshal([]byte(l), &got); err != nil || got.Metadata.Name != evs[i].Name || got.Metadata.ResourceVersion != evs[i].ResourceVersion || got.EventID == "" {
			t.Errorf("line %d: %s (%v)", i, l, err)
		}
	}
	for _, h := range f.Puts() {
		if h.Get("Content-Type") != "application/gzip" || h.Get("Content-Encoding") != "" || !strings.HasPrefix(h.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			t.Errorf("PUT headers %v", h)
		}
	}
}

// maxBytes caps an object: a larger batch is several; the prefix and the
// key are templates on the batch's first event.
func TestSplitAndKeyTemplates(t *testing.T) {
	f := fake(t)
	sinktest.MustSendBatch(t, build(t, f, ", maxBytes: 2048, prefix: '{{ .ClusterName }}/events'"), events(5)...)
	keys, objects, _ := f.Objects()
	total := 0
	for _, k := range keys {
		if !strings.HasPrefix(k, "prod-eu-1/events/year=2026/") || len(objects[k]) > 2048 {
			t.Errorf("object %s of %d bytes", k, len(objects[k]))
		}
		total += strings.Count(string(objects[k]), "\n")
	}
	if len(keys) < 2 || total != 5 {
		t.Errorf("%d objects with %d lines, want several with 5", len(keys), total)
	}
	f2 := fake(t)
	sinktest.MustSendBatch(t, build(t, f2, `, key: '{{ .Namespace }}/{firstRV}_{lastRV}_{hash}.json.gz', layout: {reason: '{{ .Reason }}'}`), events(2)...)
	keys, objects, _ = f2.Objects()
	if len(keys) != 1 || !regexp.MustCompile(`^shop/101_102_[0-9a-f]{16}\.json\.gz$`).MatchString(keys[0]) || string(objects[keys[0]]) != "{\"reason\":\"BackOff\"}\n{\"reason\":\"BackOff\"}\n" {
		t.Errorf("key template: %v %q", keys, objects)
	}
}

// A failed upload fails its events retryably (the runtime sends the batch
// again, to the same key); nothing is delivered before the object is.
func TestFailedUploadRetried(t *testing.T) {
	f := fake(t)
	s := build(t, f, "")
	f.FailNext(1)
	for i, err := range sinktest.SendBatch(s, events(2)...) {
		if _, retryable, _ := sinks.Classify(err); err == nil || !retryable {
			t.Errorf("event %d: %v", i, err)
		}
	}
	sinktest.MustSendBatch(t, s, events(2)...)
	if keys, _, _ := f.Objects(); len(keys) != 1 {
		t.Errorf("objects %v", keys)
	}
}

func TestBuildErrors(t *testing.T) {
	testenv.SetAWSTestEnv(t)
	for src, want := range map[string]string{
		`s3: {bucket: My_Bucket, region: eu-west-1}`:                             `bucket: "My_Bucket" is not a bucket name`,
		`s3: {bucket: b-1, region: eu-west-1, key: '{{ .Name }}.gz'}`:            `key: must contain {hash}`,
		`s3: {bucket: b-1, region: eu-west-1, sse: {type: KMS}}`:                 `sse.type: "KMS"`,
		`s3: {bucket: b-1, region: eu-west-1, sse: {type: AES256, kmsKeyID: k}}`: `kmsKeyID: only with sse.type aws:kms`,
		`s3: {bucket: b-1, region: eu-west-1, maxAge: 10ms}`:                     `maxAge: 10ms is under a second`,
	} {
		if _, err := sinktest.Build(t, &Config{}, src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %s", src, err, want)
		}
	}
}

// BenchmarkSendBatch: batches of 500 whole events, gzip, to the in-process
// fake (its CPU, storing, is in the figure).
func BenchmarkSendBatch(b *testing.B) {
	testenv.SetAWSTestEnv(b)
	f, err := testenv.NewS3Fake("archive")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	s := build(b, f, "")
	sinktest.BenchSendBatch(b, s, func(i int) []*event.EnhancedEvent {
		evs := events(500)
		for _, ev := range evs {
			ev.ResourceVersion = fmt.Sprint(i) + ev.ResourceVersion
		}
		return evs
	})
}

// Full says a lingering batch reached maxBytes, so the runtime sends it
// then; SendBatch uses the lines Full rendered.
func TestFullAtMaxBytes(t *testing.T) {
	f := fake(t)
	s := build(t, f, ", maxBytes: 2048").(*sink)
	evs := events(5)
	n := 0
	for n = 1; n <= len(evs) && !s.Full(evs[:n]); n++ {
	}
	if n > len(evs) || n < 2 {
		t.Fatalf("Full at %d events", n)
	}
	sinktest.MustSendBatch(t, s, evs[:n]...)
	keys, objects, _ := f.Objects()
	if lines := strings.Count(string(objects[keys[0]]), "\n"); len(keys) > 2 || lines == 0 {
		t.Errorf("objects %v", keys)
	}
	if s.rendered.lines != nil {
		t.Error("rendered lines kept after the send")
	}
}
