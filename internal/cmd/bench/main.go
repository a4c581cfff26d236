// Command bench measures eventide end to end on a local control plane: it
// creates Warning events about pods at a given rate through the API, runs the
// eventide binary as its own process (as the chart's RBAC user) delivering to
// a local webhook, and reports delivered, lost, duplicates, create→delivery
// latency, eventide's CPU and peak RSS, and the API requests it made after
// start-up (from the API server's audit log).
//
//	go run ./internal/cmd/bench -eventide bin/eventide -rate 500 -duration 10s -pods 100
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eventide/eventide/internal/testenv"
)

func main() {
	var (
		binary   = flag.String("eventide", "", "eventide binary (default: build one)")
		rate     = flag.Int("rate", 500, "events created per second")
		duration = flag.Duration("duration", 10*time.Second, "how long to create events")
		pods     = flag.Int("pods", 100, "pods the events are about")
		workers  = flag.Int("workers", 32, "concurrent creators")
		enrich   = flag.Bool("enrich", true, "enrichment on (omitLookup: false)")
		keep     = flag.Bool("keep", false, "keep the work folder")
	)
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write eventide's CPU profile during the load to this file")
	flag.StringVar(&gomaxprocs, "gomaxprocs", "", "GOMAXPROCS for the eventide process only (what a CPU limit sets in a pod)")
	flag.Parse()
	if err := run(*binary, *rate, *duration, *pods, *workers, *enrich, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

var cpuProfile, gomaxprocs string

type receipt struct {
	at    time.Time
	count int
}

type sink struct {
	mu   sync.Mutex
	got  map[string]*receipt
	bad  atomic.Int64
	seen atomic.Int64
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var p struct {
		Name  string `json:"name"`
		Owner string `json:"owner"`
	}
	b, _ := io.ReadAll(r.Body)
	if json.Unmarshal(b, &p) != nil || p.Name == "" {
		s.bad.Add(1)
		return
	}
	s.seen.Add(1)
	s.mu.Lock()
	if rc, ok := s.got[p.Name]; ok {
		rc.count++
	} else {
		s.got[p.Name] = &receipt{at: now, count: 1}
	}
	s.mu.Unlock()
}

func run(binary string, rate int, duration time.Duration, pods, workers int, enrich, keep bool) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "eventide-bench-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("work folder:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	cp, cluster, stopCluster, err := testenv.LocalCluster(ctx)
	if err != nil {
		return err
	}
	defer stopCluster()
	cs := cluster.CS
	const ns = "bench"
	if err := cluster.CreateNamespace(ctx, ns); err != nil {
		return err
	}
	w, err := cluster.CreateWorkload(ctx, ns, "load", pods, map[string]string{"owner": "perf"})
	if err != nil {
		return err
	}

	rec := &sink{got: map[string]*receipt{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rec, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	if binary == "" {
		if binary, err = testenv.BuildEventide(dir); err != nil {
			return err
		}
	}
	config := filepath.Join(dir, "config.yaml")
	hook := testenv.HookConfig(ns, "http://"+ln.Addr().String()+"/", `        name: "{{ .Name }}"
        owner: "{{ .InvolvedObject.Labels.owner }}"
        workload: "{{ with .InvolvedObject.Workload }}{{ .Name }}{{ end }}"
        reason: "{{ .Reason }}"
        count: !int "{{ .GetCount }}"
`, "")
	if err := os.WriteFile(config, []byte(fmt.Sprintf("logLevel: warn\nomitLookup: %v\n%s", !enrich, hook)), 0o600); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(dir, "eventide.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	var extra []string
	if cpuProfile != "" {
		extra = append(extra, "-pprof")
	}
	if gomaxprocs != "" {
		os.Setenv("GOMAXPROCS", gomaxprocs) // inherited by eventide only: this process has started its runtime
	}
	proc, err := testenv.StartEventide(ctx, binary, config, cp.ExporterKubeconfig, io.Discard, logFile, extra...)
	os.Unsetenv("GOMAXPROCS")
	if err != nil {
		return err
	}
	defer proc.Stop()

	// Warm-up: the first event starts the metadata caches.
	if _, err := cs.CoreV1().Events(ns).Create(ctx, testenv.PodEvent(w.Pods[0], "warmup", "Normal", "Scheduled", "warm-up"), metav1.CreateOptions{}); err != nil {
		return err
	}
	if err := waitFor(30*time.Second, func() bool { return rec.seen.Load() >= 1 }); err != nil {
		return fmt.Errorf("warm-up event not delivered: %w", err)
	}
	before, err := cp.ExporterRequests()
	if err != nil {
		return err
	}
	cpu0, _ := proc.CPUSeconds()

	total := int(float64(rate) * duration.Seconds())
	created := make([]time.Time, total)
	var createErrs atomic.Int64
	jobs := make(chan int, total)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Go(func() {
			for i := range jobs {
				pod := w.Pods[i%len(w.Pods)]
				reasons := [...][3]string{
					{"Warning", "BackOff", "Back-off restarting failed container"},
					{"Warning", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503"},
					{"Warning", "FailedScheduling", "0/3 nodes are available: 3 Insufficient memory."},
					{"Warning", "OOMKilling", "Memory cgroup out of memory: Killed process 4242 (app)"},
				}[i%4]
				ev := testenv.PodEvent(pod, fmt.Sprintf("bench-%06d", i), reasons[0], reasons[1], reasons[2])
				created[i] = time.Now()
				if _, err := cs.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
					createErrs.Add(1)
					fmt.Fprintln(os.Stderr, "create:", err)
				}
			}
		})
	}
	profDone := make(chan error, 1)
	if cpuProfile != "" {
		go func() { profDone <- fetchProfile(proc.MetricsURL, duration, cpuProfile) }()
	} else {
		profDone <- nil
	}
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := 0; i < total; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d) // pacing the load generator, not waiting on a result
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	genTook := time.Since(start)
	ok := int(int64(total) - createErrs.Load())
	_ = waitFor(30*time.Second, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.got) >= ok+1
	})
	cpu1, _ := proc.CPUSeconds()
	if err := <-profDone; err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
	}
	rss, _ := proc.PeakRSSBytes()
	after, err := cp.ExporterRequests()
	if err != nil {
		return err
	}

	rec.mu.Lock()
	var lat []time.Duration
	delivered, dups := 0, 0
	for i := 0; i < total; i++ {
		rc, ok := rec.got[fmt.Sprintf("bench-%06d", i)]
		if !ok {
			continue
		}
		delivered++
		dups += rc.count - 1
		lat = append(lat, rc.at.Sub(created[i]))
	}
	rec.mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	apiAfter := after[len(before):]
	verbs := map[string]int{}
	for _, r := range apiAfter {
		verbs[r.Verb]++
	}
	cpu := cpu1 - cpu0
	fmt.Printf("eventide end-to-end benchmark (enrichment %v, eventide GOMAXPROCS %q)\n", enrich, gomaxprocs)
	fmt.Printf("  load:         %d events about %d pods, asked %d/s for %s, achieved %.0f/s (%d create errors)\n",
		total, pods, rate, duration, float64(total)/genTook.Seconds(), createErrs.Load())
	fmt.Printf("  delivered:    %d\n  lost:         %d\n  duplicates:   %d\n", delivered, ok-delivered, dups)
	fmt.Printf("  latency:      p50 %s  p99 %s  max %s (create request start → webhook received)\n",
		pct(0.50).Round(100*time.Microsecond), pct(0.99).Round(100*time.Microsecond), pct(1).Round(100*time.Microsecond))
	fmt.Printf("  eventide CPU: %.2f s (%.0f µs per event; USER_HZ resolution 10 ms)\n", cpu, cpu/float64(max(delivered, 1))*1e6)
	fmt.Printf("  peak RSS:     %.1f MB\n", float64(rss)/1e6)
	fmt.Printf("  API requests after start-up: %d %v\n", len(apiAfter), verbs)
	if ok-delivered != 0 || dups != 0 {
		return fmt.Errorf("%d lost, %d duplicates", ok-delivered, dups)
	}
	return nil
}

func waitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func fetchProfile(base string, d time.Duration, path string) error {
	resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, int(d.Seconds())))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}
