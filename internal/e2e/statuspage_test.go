package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/statuspage"
	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
	"github.com/eventide/eventide/pkg/exporter/recent"
)

// The status page of eventide watching the control plane: an event
// created in the cluster shows on /events with where it went (delivered
// to one receiver, retrying at the other), the overview has the watch
// healthy and each receiver's state, and a refused edit of the route file
// is shown with its errors.
func TestStatusPage(t *testing.T) {
	ns := "e2e-status"
	w := setupNamespace(t, ns)
	hook, down := testenv.NewRecorder(), testenv.NewRecorder()
	defer hook.Close()
	defer down.Close()
	down.SetStatus(http.StatusServiceUnavailable)
	config := withTestState(t, hookConfig(ns, hook.URL, "")+fmt.Sprintf(
		"  - name: down\n    webhook: {endpoint: %s}\n    delivery: {initialBackoff: 1h, maxBackoff: 1h}\n", down.URL))
	config = strings.Replace(config, "        - receiver: hook\n", "        - receiver: hook\n        - receiver: down\n", 1)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	ex := startEventideFile(t, path)
	createEvent(t, kubeenv.PodEvent(w.Pods[0], "status-1", "Warning", "BackOff", `restarting <script>alert(1)</script>`))
	if _, err := hook.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) >= 1 }); err != nil {
		t.Fatal(err)
	}

	var events statuspage.Events
	if err := testenv.PollUntil(waitCtx(t), 50*time.Millisecond, func() bool {
		getJSON(t, ex.webURL+"/events?format=json&namespace="+ns, &events)
		return len(events.Events) == 1 && outcome(events.Events[0], "hook") == recent.Delivered && outcome(events.Events[0], "down") == recent.Retrying
	}); err != nil {
		t.Fatalf("/events never showed the event delivered to hook and retrying at down: %+v", events)
	}
	if e := events.Events[0]; e.Name != w.Pods[0].Name || e.Reason != "BackOff" || e.Message != `restarting <script>alert(1)</script>` {
		t.Errorf("the event as shown: %+v", e)
	}
	page := getBody(t, ex.webURL+"/events?namespace="+ns)
	if strings.Contains(page, "<script>") || !strings.Contains(page, "restarting &lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("/events does not escape the message:\n%s", page)
	}

	var o statuspage.Overview
	getJSON(t, ex.webURL+"/?format=json", &o)
	if o.Role != "single" || !o.Watch.Healthy || !o.CachesSynced || o.Watch.LastSuccess.IsZero() || o.Config.Path != path {
		t.Errorf("overview: role %q, watch %+v, caches %v, config %+v", o.Role, o.Watch, o.CachesSynced, o.Config)
	}
	for _, r := range o.Receivers {
		switch r.Name {
		case "hook":
			if r.LastSuccess.IsZero() || r.Failure != nil {
				t.Errorf("hook: %+v", r)
			}
		case "down":
			if r.State != "retrying" || r.Failure == nil || r.Failure.Status != 503 || r.Failure.Host != down.URL {
				t.Errorf("down: %+v %+v", r, r.Failure)
			}
		}
	}

	// An edit that does not load is refused; the page says why.
	if err := os.WriteFile(path, []byte(config+"  - name: broken\n    webhook: {endpoint: ftp://nowhere}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _ := postReload(t, ex); code == http.StatusOK {
		t.Fatal("a broken edit was applied")
	}
	getJSON(t, ex.webURL+"/?format=json", &o)
	if o.Config.Result != "refused" || len(o.Config.Errors) == 0 || !strings.Contains(strings.Join(o.Config.Errors, "\n"), "receivers[2]") {
		t.Errorf("after a refused edit: %+v", o.Config)
	}
}

func outcome(e statuspage.EventRow, receiver string) string {
	for _, d := range e.Receivers {
		if d.Receiver == receiver {
			return d.Outcome
		}
	}
	return ""
}

// getBody is the body of GET url; it fails the test on any status but 200.
func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// getJSON decodes the JSON body of GET url into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(getBody(t, url)), v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
