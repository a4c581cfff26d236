package file

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
	"github.com/rs/zerolog"
)

func mustBuild(t testing.TB, src string) sinks.Sink { return sinktest.MustBuild(t, &Config{}, src) }

func TestFileSinkWritesLinesAndRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.log")
	s := mustBuild(t, "file: {path: "+path+", maxsize: 1, maxbackups: 2, layout: {m: '{{ .Message }}'}}")
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("building the sink created the file: validate must have no side effects")
	}
	ev := testenv.SampleEvent()
	ev.Message = strings.Repeat("x", 100_000)
	for i := 0; i < 25; i++ { // 2.5 MB through a 1 MB file
		if err := s.Send(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "events*.log"))
	if len(files) < 2 {
		t.Errorf("no rotation: %v", files)
	}
	b, _ := os.ReadFile(path)
	if lines := strings.Count(string(b), "\n"); lines == 0 || !strings.HasPrefix(string(b), `{"m":"xxx`) {
		t.Errorf("current file has %d lines", lines)
	}
}

// Pointing the file sink at a device (the old tool died rotating
// /dev/stdout) writes to it without rotation.
func TestFileSinkOnDevice(t *testing.T) {
	s := mustBuild(t, "file: {path: /dev/null, maxsize: 1}")
	fs := s.(*fileSink)
	if err := s.Send(context.Background(), testenv.SampleEvent()); err != nil {
		t.Fatal(err)
	}
	if _, rotating := fs.wc.(*os.File); !rotating {
		t.Errorf("a device is wrapped in a rotating writer: %T", fs.wc)
	}
}

func TestPipeSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(path)
		if err != nil {
			got <- err.Error()
			return
		}
		defer f.Close()
		b := make([]byte, 4096)
		n, _ := f.Read(b)
		got <- string(b[:n])
	}()
	s := mustBuild(t, "pipe: {path: "+path+", layout: {r: '{{ .Reason }}'}}")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Until the reader has opened its end, a send fails (retryably).
	if err := testenv.PollUntil(ctx, 5*time.Millisecond, func() bool { return s.Send(ctx, testenv.SampleEvent()) == nil }); err != nil {
		t.Fatal(err)
	}
	if line := <-got; line != "{\"r\":\"BackOff\"}\n" {
		t.Errorf("pipe got %q", line)
	}
}

func TestStdoutWholeEvent(t *testing.T) {
	var out strings.Builder
	var c StdoutConfig
	s, err := c.Build("r", sinks.Deps{Log: zerolog.Nop(), Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), testenv.SampleEvent()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"reason":"BackOff"`, `"clusterName":"prod-eu-1"`, `"labels":{"app.kubernetes.io/name":"web","owner":"payments"}`, `"workload":{"apiVersion":"apps/v1","kind":"Deployment","name":"web"}`, `"deleted":false`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %s:\n%s", want, out.String())
		}
	}
}

// A pipe with no reader, or a reader that stopped reading, never blocks a
// send past its deadline: both are retryable failures.
func TestPipeNeverBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	s := mustBuild(t, "pipe: {path: "+path+"}")
	send := func(timeout time.Duration) error {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- s.Send(ctx, testenv.SampleEvent()) }()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("send blocked past its deadline")
			return nil
		}
	}
	if _, retryable, _ := sinks.Classify(send(time.Second)); !retryable {
		t.Error("no reader: not a retryable failure")
	}
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0) // a reader that never reads
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var last error
	for i := 0; i < 200 && last == nil; i++ { // fill the pipe's buffer
		last = send(100 * time.Millisecond)
	}
	if class, retryable, _ := sinks.Classify(last); class != "timeout" || !retryable {
		t.Errorf("stalled reader: %v (%s)", last, class)
	}
}

// A line cut by the send's deadline (the reader stalled with the pipe
// full) is finished before anything else: the retried send completes it
// and counts it as sent, and the reader gets whole lines only, each once.
func TestPipeCutLineIsFinished(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// A writer of the test's own keeps the pipe open while the sink
	// reopens it after the cut write, so the reader sees no end of file.
	keep, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := mustBuild(t, "pipe: {path: "+path+"}")
	big := testenv.SampleEvent()
	big.Message = strings.Repeat("x", 200<<10) // more than the pipe's 64 KiB buffer
	send := func(ev *event.EnhancedEvent, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return s.Send(ctx, ev)
	}
	if class, _, _ := sinks.Classify(send(big, 200*time.Millisecond)); class != "timeout" {
		t.Fatalf("a stalled reader: %s, want a timeout", class)
	}
	read := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		read <- b
	}()
	if err := send(big, 10*time.Second); err != nil {
		t.Fatalf("retried send: %v", err)
	}
	small := testenv.SampleEvent()
	small.Message = "after"
	if err := send(small, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	keep.Close()
	lines := strings.Split(strings.TrimSuffix(string(<-read), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("the reader got %d lines, want 2 (the cut line finished once, then the next)", len(lines))
	}
	for i, want := range []string{big.Message, "after"} {
		var got event.EnhancedEvent
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil || got.Message != want {
			t.Errorf("line %d is not whole (%d bytes): %v", i+1, len(lines[i]), err)
		}
	}
}

// Build reports every mistake at once, not the first.
func TestBuildReportsEveryError(t *testing.T) {
	_, err := sinktest.Build(t, &Config{}, "file: {maxsize: -1, layout: {a: '{{ .Nope'}}")
	for _, want := range []string{"receivers[0].file.path: required", "must not be negative", "layout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	_, err = sinktest.Build(t, &PipeConfig{}, "pipe: {layout: {a: '{{ .Nope'}}")
	for _, want := range []string{"receivers[0].pipe.path: required", "layout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("pipe: error %v lacks %q", err, want)
		}
	}
}
