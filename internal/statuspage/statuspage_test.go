package statuspage

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/eventide/eventide/internal/redact"
	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/pkg/exporter"
	"github.com/eventide/eventide/pkg/exporter/recent"
)

const pagesConfig = `
route:
  drop:
    - reason: "^Noise$"
  match:
    - receiver: ok
    - receiver: broken
    - receiver: flaky
    - receiver: pager
silence:
  - match: {reason: "^Quiet$"}
    until: 2999-01-01T00:00:00Z
    comment: planned <b>work</b>
receivers:
  - name: ok
    webhook: {endpoint: "OK_URL"}
  - name: broken
    webhook: {endpoint: "BROKEN_URL"}
  - name: flaky
    webhook: {endpoint: "FLAKY_URL/hook/${FLAKY_TOKEN}"}
    delivery: {initialBackoff: 1h, maxBackoff: 1h}
  - name: pager
    webhook: {endpoint: "OK_URL"}
    silenceable: true
    group: {by: [reason], wait: 1h}
`

const flakyToken = "tok-0123456789abcdef"

// pagesFixture runs pagesConfig against three webhooks (one answering
// 400, one 503) and routes three events: a BackOff whose message tries to
// inject a script, a Quiet one the silence mutes at the pager, and a
// Noise one the drop rule stops.
func pagesFixture(t *testing.T) (*live, http.Handler, *redact.Secrets, *Rates) {
	ok, broken, flaky := testenv.NewRecorder(), testenv.NewRecorder(), testenv.NewRecorder()
	t.Cleanup(ok.Close)
	t.Cleanup(broken.Close)
	t.Cleanup(flaky.Close)
	broken.SetStatus(http.StatusBadRequest)
	flaky.SetStatus(http.StatusServiceUnavailable)
	secrets := &redact.Secrets{}
	var rates *Rates
	conf := strings.NewReplacer("OK_URL", ok.URL, "BROKEN_URL", broken.URL, "FLAKY_URL", flaky.URL).Replace(pagesConfig)
	l := startLive(t, conf, map[string]string{"FLAKY_TOKEN": flakyToken}, secrets)
	rates = NewRates(Counters{In: l.m.EventsReceived, Out: l.m.Sent, Dead: l.m.DeadLetters, Latency: l.m.DeliveryLatency})
	rates.Sample(time.Now().Add(-time.Minute))
	l.pipeline.Handle(pod("web-1", "BackOff", `restarting <script>alert("x")</script> & more`))
	l.pipeline.Handle(pod("web-2", "Quiet", "nothing to see"))
	l.pipeline.Handle(pod("web-3", "Noise", "dropped"))
	h := Handler(Options{Engine: l, Recent: l.ring, Secrets: secrets, Version: "v-test",
		Rates:       rates,
		ConfigState: func() ConfigState { return ConfigState{Path: "/etc/eventide/config.yaml"} }})
	testenv.Eventually(t, "every receiver's outcome", func() bool {
		got := outcomes(l.ring.Snapshot(recent.Filter{}, 0))
		return got["web-1"]["ok"] == recent.Delivered && got["web-1"]["broken"] == recent.DeadLettered &&
			got["web-1"]["flaky"] == recent.Retrying && got["web-1"]["pager"] == recent.Grouped &&
			got["web-2"]["broken"] == recent.DeadLettered && got["web-2"]["ok"] == recent.Delivered
	})
	return l, h, secrets, rates
}

// outcomes maps event name → receiver → outcome.
func outcomes(entries []recent.Entry) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, e := range entries {
		out[e.Name] = map[string]string{}
		for _, d := range e.Receivers {
			out[e.Name][d.Receiver] = d.Outcome
		}
	}
	return out
}

// /events says where each event went and why, newest first, in JSON and
// HTML; a message with markup is text, never an element.
func TestEventsPage(t *testing.T) {
	_, h, _, _ := pagesFixture(t)
	body, _ := get(t, h, "/events?format=json")
	var ev Events
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Events) != 3 || ev.Events[0].Name != "web-3" || ev.Events[2].Name != "web-1" {
		t.Fatalf("events %+v; want web-3, web-2, web-1", ev.Events)
	}
	detail := map[string]map[string]string{}
	for _, e := range ev.Events {
		detail[e.Name] = map[string]string{}
		for _, d := range e.Receivers {
			detail[e.Name][d.Receiver] = d.Outcome + "/" + d.Detail
		}
	}
	want := map[string]map[string]string{
		"web-1": {"ok": "delivered/", "broken": "dead_lettered/http_4xx", "flaky": "retrying/http_5xx", "pager": "grouped/BackOff"},
		"web-2": {"ok": "delivered/", "broken": "dead_lettered/http_4xx", "flaky": "queued/", "pager": "muted/silenced by silence[0]"}, // behind web-1's retries
		"web-3": {},
	}
	for name, rcv := range want {
		for r, o := range rcv {
			if detail[name][r] != o {
				t.Errorf("%s at %s: %q, want %q", name, r, detail[name][r], o)
			}
		}
		if len(detail[name]) != len(rcv) {
			t.Errorf("%s went to %v, want %v", name, detail[name], rcv)
		}
	}
	if noise := ev.Events[0]; noise.DroppedBy != "route" || strings.Join(noise.NotReached, ",") != "broken,flaky,ok,pager" || len(noise.Routes) != 0 {
		t.Errorf("the dropped event: droppedBy %q, not reached %v, routes %v", noise.DroppedBy, noise.NotReached, noise.Routes)
	}
	if r := ev.Events[2].Routes; len(r) != 1 || r[0] != "route" {
		t.Errorf("web-1's routes %v, want [route]", r)
	}

	page, hdr := get(t, h, "/events?refresh=0")
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	doc := parse(t, page)
	if n := find(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "script" }); n != nil {
		t.Fatalf("the page has a script element: %s", page)
	}
	if find(doc, func(n *html.Node) bool { return isElem(n, "meta") && attr(n, "http-equiv") == "refresh" }) != nil {
		t.Error("refresh=0 still refreshes")
	}
	rows := rowsOf(t, doc, "events")
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	if msg := text(rows[2][4]); msg != `restarting <script>alert("x")</script> & more` {
		t.Errorf("web-1's message cell %q", msg)
	}
	for _, want := range []string{"ok: delivered", "broken: dead_lettered (http_4xx)", "flaky: retrying (http_5xx)", "pager: grouped (BackOff)"} {
		if !strings.Contains(text(rows[2][6]), want) {
			t.Errorf("web-1's receivers cell %q lacks %q", text(rows[2][6]), want)
		}
	}
	if got := text(rows[0][6]); !strings.Contains(got, "not routed (dropped): broken, flaky, ok, pager") {
		t.Errorf("the dropped event's receivers cell %q", got)
	}

	// The filtered page's JSON link keeps the filter.
	page, _ = get(t, h, "/events?receiver=pager&outcome=muted&refresh=0")
	link := find(parse(t, page), func(n *html.Node) bool { return isElem(n, "a") && text(n) == "JSON" })
	if link == nil || attr(link, "href") != "/events?format=json&outcome=muted&receiver=pager" {
		t.Fatalf("the filtered page's JSON link: %v", link)
	}
	body, _ = get(t, h, attr(link, "href"))
	ev = Events{}
	if err := json.Unmarshal([]byte(body), &ev); err != nil || len(ev.Events) != 1 || ev.Events[0].Name != "web-2" {
		t.Errorf("filtered by pager muted: %s", body)
	}
	body, _ = get(t, h, "/events?format=json&namespace=elsewhere")
	if ev = (Events{}); json.Unmarshal([]byte(body), &ev) != nil || len(ev.Events) != 0 {
		t.Errorf("filtered by another namespace: %s", body)
	}
}

// The overview shows each receiver's state: the retrying one since when,
// with its failure's class, HTTP status and host, never the path or the
// token in its URL; dead letters counted.
func TestOverviewPage(t *testing.T) {
	_, h, _, _ := pagesFixture(t)
	body, _ := get(t, h, "/?format=json")
	if strings.Contains(body, flakyToken) || strings.Contains(body, "/hook/") {
		t.Fatalf("the overview shows the flaky receiver's URL: %s", body)
	}
	var o Overview
	if err := json.Unmarshal([]byte(body), &o); err != nil {
		t.Fatal(err)
	}
	rows := map[string]ReceiverRow{}
	for _, r := range o.Receivers {
		rows[r.Name] = r
	}
	if f := rows["flaky"]; f.State != "retrying" || f.Since.IsZero() || f.Failure == nil || f.Failure.Class != "http_5xx" ||
		f.Failure.Status != 503 || !strings.HasPrefix(f.Failure.Host, "http://127.0.0.1:") {
		t.Errorf("flaky: %+v %+v", f, f.Failure)
	}
	if b := rows["broken"]; b.DeadLetters != 2 || b.Failure == nil || b.Failure.Status != 400 || b.State != "idle" {
		t.Errorf("broken: %+v %+v", b, b.Failure)
	}
	if ok := rows["ok"]; ok.State != "idle" || ok.LastSuccess.IsZero() || ok.Failure != nil {
		t.Errorf("ok: %+v", ok)
	}
	if !rows["pager"].Grouping || o.Role != "single" || o.Build.Version != "v-test" {
		t.Errorf("pager grouping %v, role %q, version %q", rows["pager"].Grouping, o.Role, o.Build.Version)
	}

	page, _ := get(t, h, "/")
	doc := parse(t, page)
	var flaky []*html.Node
	for _, r := range rowsOf(t, doc, "receivers") {
		if text(r[0]) == "flaky" {
			flaky = r
		}
	}
	if flaky == nil || !strings.HasPrefix(text(flaky[2]), "retrying since ") || !strings.Contains(text(flaky[3]), "http_5xx · HTTP 503 · http://127.0.0.1:") {
		t.Errorf("the flaky row: %v", texts(flaky))
	}
	if find(doc, func(n *html.Node) bool {
		return isElem(n, "meta") && attr(n, "http-equiv") == "refresh" && attr(n, "content") == "10"
	}) == nil {
		t.Error("no refresh every 10 s")
	}
}

// A refused reload is shown at the top with its errors, escaped and with
// ${VAR} values redacted.
func TestOverviewRefusedReload(t *testing.T) {
	l, _, secrets, _ := pagesFixture(t)
	h := Handler(Options{Engine: l, Recent: l.ring, Secrets: secrets, ConfigState: func() ConfigState {
		return ConfigState{Path: "/etc/eventide/config.yaml", Result: "refused", LastReload: time.Now(),
			Errors: []string{`receivers[2].webhook.endpoint: <img src=x> "http://x/` + flakyToken + `"`, "route.match[0].receiver: unknown"}}
	}})
	page, _ := get(t, h, "/")
	if strings.Contains(page, flakyToken) {
		t.Fatal("the refusal shows a ${VAR} value")
	}
	doc := parse(t, page)
	box := byID(doc, "refused")
	if box == nil {
		t.Fatalf("no refusal box: %s", page)
	}
	if find(box, func(n *html.Node) bool { return isElem(n, "img") }) != nil {
		t.Error("an error's markup became an element")
	}
	if got := text(box); !strings.Contains(got, `<img src=x> "http://x/<redacted>"`) || !strings.Contains(got, "route.match[0].receiver: unknown") {
		t.Errorf("refusal box %q", got)
	}
}

// /groups shows the pager's group; /silences the route file's silence
// (its comment escaped) and the annotation silences seen.
func TestGroupsAndSilencesPages(t *testing.T) {
	_, h, _, _ := pagesFixture(t)
	body, _ := get(t, h, "/groups?format=json")
	var g Groups
	if err := json.Unmarshal([]byte(body), &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Receivers) != 1 || g.Receivers[0].Receiver != "pager" || len(g.Receivers[0].Groups) != 1 {
		t.Fatalf("groups: %s", body)
	}
	if v := g.Receivers[0].Groups[0]; v.Key != "BackOff" || v.Count != 1 || v.Pending != 1 || v.Next.IsZero() ||
		len(v.Objects) != 1 || v.Objects[0] != "Pod/shop/web-1" {
		t.Errorf("the group: %+v", v)
	}
	page, _ := get(t, h, "/groups")
	rows := rowsOf(t, parse(t, page), "")
	if len(rows) != 1 || text(rows[0][0]) != "BackOff" || !strings.HasPrefix(text(rows[0][6]), "in ") {
		t.Errorf("groups rows %v", rows)
	}

	page, _ = get(t, h, "/silences")
	doc := parse(t, page)
	sil := rowsOf(t, doc, "silences")
	if len(sil) != 1 || text(sil[0][1]) != "reason=^Quiet$" || !strings.HasPrefix(text(sil[0][2]), "in force") || text(sil[0][3]) != "planned <b>work</b>" {
		t.Errorf("silences rows %v", sil)
	}
	if find(byID(doc, "silences"), func(n *html.Node) bool { return isElem(n, "b") }) != nil {
		t.Error("a comment's markup became an element")
	}
}

// A standby says so on every page and names the leader.
func TestStandbyBanner(t *testing.T) {
	l, _, secrets, _ := pagesFixture(t)
	l.status = func(st exporter.Status) exporter.Status {
		st.LeaderElection, st.Delivering, st.Leader, st.Lease, st.Identity = true, false, "eventide-7f9c_1", "monitoring/eventide", "eventide-b2_1"
		return st
	}
	h := Handler(Options{Engine: l, Recent: l.ring, Secrets: secrets})
	for _, path := range []string{"/", "/events", "/groups", "/silences"} {
		page, _ := get(t, h, path)
		b := byID(parse(t, page), "standby")
		if b == nil || !strings.Contains(text(b), "the leader is eventide-7f9c_1") || !strings.Contains(text(b), "monitoring/eventide") {
			t.Errorf("%s: standby banner %v", path, b)
		}
	}
	body, _ := get(t, h, "/?format=json")
	var o Overview
	if err := json.Unmarshal([]byte(body), &o); err != nil || o.Role != "standby" || o.Leader != "eventide-7f9c_1" {
		t.Errorf("overview role %q leader %q (%v)", o.Role, o.Leader, err)
	}
}

// Only GET and HEAD are served; unknown paths are 404.
func TestMethodsAndPaths(t *testing.T) {
	_, h, _, _ := pagesFixture(t)
	for _, c := range []struct {
		method, path string
		want         int
	}{{http.MethodPost, "/", 405}, {http.MethodDelete, "/events", 405}, {http.MethodGet, "/nope", 404}, {http.MethodHead, "/silences", 200}} {
		rec := httptestDo(h, c.method, c.path)
		if rec != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, rec, c.want)
		}
	}
}
