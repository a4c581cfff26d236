package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/pkg/exporter"
	"github.com/eventide/eventide/pkg/sinks"
)

// testReloader reloads path; it has no engine, so only refusals and
// unchanged files may reach it.
func testReloader(t *testing.T, path string) *reloader {
	t.Helper()
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := exporter.NewMetrics(prometheus.NewRegistry(), "eventide")
	return newReloader(path, content, nil, m, zerolog.Nop(), sinks.Deps{Ctx: context.Background(), Log: zerolog.Nop()})
}

// A refused file that has not changed since is answered from the last
// validation: here the file is rewritten in place with the same size and
// modification time, and the answer is still the first file's error,
// so it was not read again. Once its time changes it is.
func TestReloadAnswersRefusedFileFromLastValidation(t *testing.T) {
	path := writeFile(t, "config.yaml", validConfig)
	r := testReloader(t, path)
	write := func(receiverType string) {
		t.Helper()
		fi, _ := os.Stat(path)
		if err := os.WriteFile(path, []byte(strings.Replace(validConfig, "stdout", receiverType, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	write("stdoux")
	err := r.reload("test")
	if err == nil || !strings.Contains(err.Error(), "stdoux") {
		t.Fatalf("first refusal: %v", err)
	}
	write("stdouy") // same size, same time
	if err := r.reload("test"); err == nil || !strings.Contains(err.Error(), "stdoux") {
		t.Fatalf("unchanged refused file: %v, want the first validation's answer", err)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if err := r.reload("test"); err == nil || !strings.Contains(err.Error(), "stdouy") {
		t.Fatalf("modified refused file: %v, want it validated again", err)
	}
	if n := testutil.ToFloat64(r.m.ConfigReloads.WithLabelValues("invalid")); n != 3 {
		t.Errorf("config_reloads_total{result=invalid} = %v, want 3", n)
	}
}

// POST /-/reload answers 429 with Retry-After past one reload a second.
func TestHTTPReloadIsRateLimited(t *testing.T) {
	r := testReloader(t, writeFile(t, "config.yaml", validConfig))
	codes := map[int]int{}
	var retryAfter string
	for range 5 {
		w := httptest.NewRecorder()
		r.serveHTTP(w, httptest.NewRequest(http.MethodPost, "/-/reload", nil))
		codes[w.Code]++
		if w.Code == http.StatusTooManyRequests {
			retryAfter = w.Header().Get("Retry-After")
		}
	}
	// Five POSTs in a row take far less than the 4 s that would let more
	// than one through; at most a second one may pass.
	if codes[http.StatusOK] < 1 || codes[http.StatusOK] > 2 || codes[http.StatusTooManyRequests] < 3 || retryAfter != "1" {
		t.Errorf("answers %v (Retry-After %q), want one or two 200 and the rest 429 with Retry-After 1", codes, retryAfter)
	}
}

// Writes to other files in the config's folder (a dead-letter file, a
// spool) neither trigger nor postpone a reload: an edit of the config
// applies while they go on.
func TestFileReloadNotPostponedByOtherWrites(t *testing.T) {
	path := writeFile(t, "config.yaml", validConfig)
	r := testReloader(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { r.watch(ctx) })
	noise := filepath.Join(filepath.Dir(path), "dead-letter.jsonl")
	wg.Go(func() {
		for ctx.Err() == nil {
			_ = os.WriteFile(noise, []byte("x\n"), 0o600)
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	invalid := func() float64 { return testutil.ToFloat64(r.m.ConfigReloads.WithLabelValues("invalid")) }
	// The watcher is set up asynchronously: edit until it sees one.
	deadline, stop := context.WithTimeout(ctx, 20*time.Second)
	defer stop()
	i := 0
	if err := testenv.PollUntil(deadline, 300*time.Millisecond, func() bool {
		i++
		_ = os.WriteFile(path, []byte(strings.Replace(validConfig, "stdout", "stdoux"+strings.Repeat("x", i), 1)), 0o600)
		return invalid() > 0
	}); err != nil {
		t.Fatalf("the edited config was never reloaded while another file in its folder was written every 20 ms: %v", err)
	}
	if n := testutil.ToFloat64(r.m.ConfigReloads.WithLabelValues("unchanged")); n > 0 {
		t.Errorf("%v reloads of an unchanged config: writes to other files triggered them", n)
	}
}
