package influxdb

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/rs/zerolog"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// decoded is one point as InfluxData's own parser reads it.
type decoded struct {
	measurement string
	tags        map[string]string
	fields      map[string]any
	at          time.Time
}

func parseLines(t *testing.T, body []byte) []decoded {
	t.Helper()
	var out []decoded
	dec := lineprotocol.NewDecoderWithBytes(body)
	for dec.Next() {
		m, err := dec.Measurement()
		if err != nil {
			t.Fatalf("measurement: %v in %s", err, body)
		}
		p := decoded{measurement: string(m), tags: map[string]string{}, fields: map[string]any{}}
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				t.Fatalf("tag: %v in %s", err, body)
			}
			if k == nil {
				break
			}
			p.tags[string(k)] = string(v)
		}
		for {
			k, v, err := dec.NextField()
			if err != nil {
				t.Fatalf("field: %v in %s", err, body)
			}
			if k == nil {
				break
			}
			p.fields[string(k)] = v.Interface()
		}
		if p.at, err = dec.Time(lineprotocol.Nanosecond, time.Time{}); err != nil {
			t.Fatalf("time: %v", err)
		}
		out = append(out, p)
	}
	return out
}

// v2API is InfluxDB 2.x's write endpoint: it checks the token, records
// each body, and answers with answer.
type v2API struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	answer func(w http.ResponseWriter)
}

func newV2(t *testing.T) *v2API {
	a := &v2API{answer: func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/write" || r.URL.Query().Get("org") != "platform" || r.URL.Query().Get("bucket") != "events" ||
			r.URL.Query().Get("precision") != "ns" || r.Header.Get("Authorization") != "Token tok" {
			t.Errorf("request %s %s %v", r.URL.Path, r.URL.RawQuery, r.Header)
		}
		b, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.bodies = append(a.bodies, b)
		answer := a.answer
		a.mu.Unlock()
		answer(w)
	}))
	t.Cleanup(a.Close)
	return a
}

func v2Sink(t *testing.T, a *v2API, extra string) sinks.BatchSink {
	return sinktest.MustBuild(t, &Config{}, `influxdb: {url: '`+a.URL+`', org: platform, bucket: events, token: tok`+extra+`}`).(sinks.BatchSink)
}

// The default point: bounded tags (no object name or UID), the count
// increase as an integer, the message with its newline escaped, at the
// occurrence's time; InfluxData's parser reads it back.
func TestV2WireFormat(t *testing.T) {
	a := newV2(t)
	s := v2Sink(t, a, "")
	ev := testenv.SampleEvent()
	ev.Message = "line one\nline \"two\", a=b \\"
	ev.Source.Component = ""
	ev.ReportingController = "kubelet"
	if errs := s.SendBatch(context.Background(), []*event.EnhancedEvent{ev}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	p := parseLines(t, a.bodies[0])[0]
	want := map[string]string{"namespace": "shop", "kind": "Pod", "reason": "BackOff", "type": "Warning", "component": "kubelet",
		"workload": "Deployment/web", "cluster": "prod-eu-1"}
	if p.measurement != "kubernetes_events" || fmt.Sprint(p.tags) != fmt.Sprint(want) {
		t.Errorf("measurement %s tags %v, want %v", p.measurement, p.tags, want)
	}
	if p.fields["count"] != int64(1) || p.fields["message"] != ev.Message || p.fields["name"] != "web-1" {
		t.Errorf("fields %#v", p.fields)
	}
	if d := p.at.Sub(ev.GetLastTime()); d < 0 || d >= time.Millisecond {
		t.Errorf("time %v, want within a millisecond after %v", p.at, ev.GetLastTime())
	}
}

// Two pods failing for the same reason in the same second are two points
// (the time differs by an offset from the UID); the same occurrence sent
// again is the same point with the same count.
func TestPointIdentity(t *testing.T) {
	a := newV2(t)
	s := v2Sink(t, a, ", tags: {reason: '{{ .Reason }}'}")
	evs := testenv.SampleEvents(2)
	evs[0].Count, evs[1].Count = 1, 1
	s.SendBatch(context.Background(), evs)
	again := *evs[0]
	s.SendBatch(context.Background(), []*event.EnhancedEvent{&again})
	more := *evs[0]
	more.Count = 4
	s.SendBatch(context.Background(), []*event.EnhancedEvent{&more})
	var ps []decoded
	for _, b := range a.bodies {
		ps = append(ps, parseLines(t, b)...)
	}
	if len(ps) != 4 || ps[0].at.Equal(ps[1].at) || !ps[2].at.Equal(ps[0].at) || ps[2].fields["count"] != ps[0].fields["count"] ||
		ps[3].fields["count"] != int64(3) || ps[3].at.Equal(ps[0].at) {
		for _, p := range ps {
			t.Logf("%v %v", p.at.UnixNano(), p.fields["count"])
		}
		t.Error("want two distinct points, the re-send equal to the first, the update counting 3 more at its own time")
	}
}

// v2 refuses the whole batch and names the first bad line: that event is
// refused for good, the rest are sent again. A field type conflict is a
// configuration error for all.
func TestV2Refusals(t *testing.T) {
	a := newV2(t)
	s := v2Sink(t, a, "")
	a.answer = func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"code":"invalid","message":"unable to parse 'kubernetes_events,x= y': missing tag value","line":2}`)
	}
	errs := s.SendBatch(context.Background(), testenv.SampleEvents(3))
	for i, err := range errs {
		_, retryable, _ := sinks.Classify(err)
		if err == nil || retryable != (i != 1) {
			t.Errorf("event %d: %v (retryable %v)", i, err, retryable)
		}
	}
	a.answer = func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusUnprocessableEntity)
		io.WriteString(w, `{"code":"unprocessable entity","message":"failure writing points to database: partial write: field type conflict: input field \"count\" on measurement \"kubernetes_events\" is type integer, already exists as type float dropped=2"}`)
	}
	for _, err := range s.SendBatch(context.Background(), testenv.SampleEvents(2)) {
		if _, retryable, _ := sinks.Classify(err); err == nil || retryable || !strings.Contains(err.Error(), "set another measurement") {
			t.Errorf("field type conflict: %v", err)
		}
	}
	a.answer = func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	if _, retryable, wait := sinks.Classify(s.SendBatch(context.Background(), testenv.SampleEvents(1))[0]); !retryable || wait != 7*time.Second {
		t.Errorf("503: retryable %v after %s", retryable, wait)
	}
}

// InfluxDB 1.6 (Debian's influxd) stores the points; read back by a
// query: two pods in the same second are two points, a re-sent batch adds
// none, and the count stays an integer.
func TestV1RealServer(t *testing.T) {
	testenv.Outside(t, "influxd")
	db, err := testenv.StartInfluxDB(context.Background(), t.TempDir(), "k8s")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	s := sinktest.MustBuild(t, &Config{}, `influxdb: {url: '`+db.URL+`', flushInterval: 1ms}`).(sinks.BatchSink)
	evs := testenv.SampleEvents(3)
	evs[2].Reason, evs[2].Message = "Killing", "Stopping container app\nnow"
	for i := 0; i < 2; i++ { // the second time: a re-send after a crash
		for j, err := range s.SendBatch(context.Background(), evs) {
			if err != nil {
				t.Fatalf("event %d: %v", j, err)
			}
		}
	}
	rows, err := db.Query("k8s", `SELECT * FROM kubernetes_events`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d points, want 3: %v", len(rows), rows)
	}
	killing := 0
	for _, r := range rows {
		if r["reason"] == "Killing" {
			killing++
			if r["message"] != `Stopping container app\nnow` || r["count"].(interface{ String() string }).String() != "1" {
				t.Errorf("point %v", r)
			}
		}
	}
	keys, err := db.Query("k8s", `SHOW FIELD KEYS FROM kubernetes_events`)
	if err != nil || killing != 1 || fmt.Sprint(keys) != "[map[fieldKey:count fieldType:integer] map[fieldKey:message fieldType:string] map[fieldKey:name fieldType:string]]" {
		t.Errorf("field types %v (%v), Killing points %d", keys, err, killing)
	}
	// A measurement whose count is a float already (in the same shard:
	// the same week): a configuration error, refused for good.
	conflict := sinktest.MustBuild(t, &Config{}, `influxdb: {url: '`+db.URL+`', measurement: old}`).(sinks.BatchSink)
	seed := fmt.Sprintf("old count=1.5 %d\n", evs[0].GetLastTime().UnixNano())
	if err := db.Write("k8s", seed); err != nil {
		t.Fatalf("seeding a float count: %v", err)
	}
	ev := testenv.SampleEvent()
	ev.UID = types.UID("conflict")
	if err := conflict.SendBatch(context.Background(), []*event.EnhancedEvent{ev})[0]; err == nil || !strings.Contains(err.Error(), "field type conflict") {
		t.Errorf("field type conflict: %v", err)
	} else if _, retryable, _ := sinks.Classify(err); retryable {
		t.Errorf("field type conflict retried: %v", err)
	}
}

// v1 keeps the good points of a partial write and does not say which it
// dropped: the batch counts as written, and the drop is logged.
func TestV1PartialWrite(t *testing.T) {
	testenv.Outside(t, "influxd")
	db, err := testenv.StartInfluxDB(context.Background(), t.TempDir(), "k8s")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	if _, err := db.Query("", "CREATE DATABASE short WITH DURATION 1h"); err != nil {
		t.Fatal(err)
	}
	var logs testenv.SyncBuffer
	s, err := (&Config{URL: db.URL, Database: "short"}).Build("receivers[0].influxdb", sinks.Deps{Log: zerolog.New(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	old, now := testenv.SampleEvent(), testenv.SampleEvents(1)[0] // the sample is days old: beyond the 1h retention
	now.LastTimestamp.Time = time.Now()
	for i, err := range s.(sinks.BatchSink).SendBatch(context.Background(), []*event.EnhancedEvent{old, now}) {
		if err != nil {
			t.Errorf("event %d: %v", i, err)
		}
	}
	if rows, err := db.Query("short", "SELECT * FROM kubernetes_events"); err != nil || len(rows) != 1 {
		t.Errorf("%d points kept (%v), want 1", len(rows), err)
	}
	if !strings.Contains(logs.String(), `"dropped":1`) {
		t.Errorf("the drop was not logged: %s", logs.String())
	}
}

func TestBuildErrors(t *testing.T) {
	for src, want := range map[string]string{
		`influxdb: {url: 'http://i:8086', database: k8s, token: t}`: "not both",
		`influxdb: {url: 'http://i:8086', token: t}`:                "needs org and bucket",
		`influxdb: {url: 'http://i:8086', fields: {count: x}}`:      "fields.count: count is always written",
		`influxdb: {url: 'ftp://i'}`:                                "url: not an http(s) URL",
		`influxdb: {url: 'http://i:8086', tags: {a: '{{ .Bad'}}`:    "tags.a",
	} {
		if _, err := sinktest.Build(t, &Config{}, src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %s", src, err, want)
		}
	}
}

// benchEvents are batches of 500 distinct events (UIDs, counts), so every
// point is new.
func benchEvents(i int) []*event.EnhancedEvent {
	evs := testenv.SampleEvents(500)
	for j, ev := range evs {
		ev.UID = types.UID(fmt.Sprintf("b%d-%d", i, j))
	}
	return evs
}

// BenchmarkSendBatchV2: batches of 500 points to an in-process 2.x write
// endpoint that only reads the body (its CPU is in the figure).
func BenchmarkSendBatchV2(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s := sinktest.MustBuild(b, &Config{}, `influxdb: {url: '`+srv.URL+`', org: o, bucket: b, token: t, batchSize: 500}`)
	sinktest.BenchSendBatch(b, s, benchEvents)
}

// BenchmarkSendBatchV1: batches of 500 points to Debian's influxd 1.6
// (another process: its CPU is not in the figure).
func BenchmarkSendBatchV1(b *testing.B) {
	testenv.Outside(b, "influxd")
	db, err := testenv.StartInfluxDB(context.Background(), b.TempDir(), "k8s")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Stop()
	s := sinktest.MustBuild(b, &Config{}, `influxdb: {url: '`+db.URL+`', batchSize: 500}`)
	sinktest.BenchSendBatch(b, s, benchEvents)
}
