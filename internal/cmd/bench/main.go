// Command bench measures eventide end to end on a local control plane: it
// creates Warning events about pods at a given rate through the API, runs the
// eventide binary as its own process (as the chart's RBAC user) delivering to
// a local webhook, and reports delivered, lost, duplicates, create→delivery
// latency, eventide's CPU and peak RSS, and the API requests it made after
// start-up (from the API server's audit log).
//
// -scenario breaks something a third of the way through the stream and
// reports how eventide came through it:
//
//	none        nothing (the default)
//	kill        eventide is SIGKILLed and started again at once
//	outage      the webhook answers 503 for -outage (default 4 s)
//	apirestart  kube-apiserver is restarted
//	failover    two replicas with leader election; the leader is SIGKILLed
//
//	go run ./internal/cmd/bench -eventide bin/eventide -rate 300 -duration 10s -scenario kill
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
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eventide/eventide/internal/testenv"
)

type options struct {
	binary, scenario, cpuProfile, gomaxprocs string
	rate, pods, workers                      int
	duration, outage                         time.Duration
	enrich, keep                             bool
}

func main() {
	var o options
	flag.StringVar(&o.binary, "eventide", "", "eventide binary (default: build one)")
	flag.IntVar(&o.rate, "rate", 500, "events created per second")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long to create events")
	flag.IntVar(&o.pods, "pods", 100, "pods the events are about")
	flag.IntVar(&o.workers, "workers", 32, "concurrent creators")
	flag.BoolVar(&o.enrich, "enrich", true, "enrichment on (omitLookup: false)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work folder")
	flag.StringVar(&o.scenario, "scenario", "none", "none, kill, outage, apirestart or failover")
	flag.DurationVar(&o.outage, "outage", 4*time.Second, "with -scenario outage: how long the webhook answers 503")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write eventide's CPU profile during the load to this file")
	flag.StringVar(&o.gomaxprocs, "gomaxprocs", "", "GOMAXPROCS for the eventide process only (what a CPU limit sets in a pod)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type receipt struct {
	at    time.Time
	count int
}

// sink is the webhook eventide delivers to; it can fail on purpose.
type sink struct {
	mu      sync.Mutex
	got     map[string]*receipt
	failing atomic.Bool
	seen    atomic.Int64
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	b, _ := io.ReadAll(r.Body)
	if s.failing.Load() {
		http.Error(w, "outage", http.StatusServiceUnavailable)
		return
	}
	var p struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(b, &p) != nil || p.Name == "" {
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

func (s *sink) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func run(o options) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "eventide-bench-")
	if err != nil {
		return err
	}
	if o.keep {
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
	w, err := cluster.CreateWorkload(ctx, ns, "load", o.pods, map[string]string{"owner": "perf"})
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

	if o.binary == "" {
		if o.binary, err = testenv.BuildEventide(dir); err != nil {
			return err
		}
	}
	top := fmt.Sprintf("logLevel: warn\nomitLookup: %v\nspool: {dir: %s}\ndeadLetter: {path: %s}\n",
		!o.enrich, filepath.Join(dir, "spool"), filepath.Join(dir, "dead.jsonl"))
	if o.scenario == "failover" {
		top += "leaderElection: {enabled: true, leaderElectionID: bench, leaseDuration: 4s, renewDeadline: 3s, retryPeriod: 500ms}\n"
	}
	hook := testenv.HookConfig(ns, "http://"+ln.Addr().String()+"/", `        name: "{{ .Name }}"
        owner: "{{ .InvolvedObject.Labels.owner }}"
        workload: "{{ with .InvolvedObject.Workload }}{{ .Name }}{{ end }}"
        reason: "{{ .Reason }}"
        count: !int "{{ .GetCount }}"
`, "    delivery: {initialBackoff: 100ms, maxBackoff: 1s}\n")
	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, []byte(top+hook), 0o600); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(dir, "eventide.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	start := func(extra ...string) (*testenv.Process, error) {
		if o.gomaxprocs != "" {
			os.Setenv("GOMAXPROCS", o.gomaxprocs) // inherited by eventide only: this process has started its runtime
			defer os.Unsetenv("GOMAXPROCS")
		}
		return testenv.StartEventide(ctx, o.binary, config, cp.ExporterKubeconfig, io.Discard, logFile, extra...)
	}
	var extra []string
	if o.cpuProfile != "" {
		extra = append(extra, "-pprof")
	}
	proc, err := start(extra...)
	if err != nil {
		return err
	}
	procs := []*testenv.Process{proc}
	defer func() {
		for _, p := range procs {
			p.Stop()
		}
	}()
	if o.scenario == "failover" {
		// The first replica leads once it is ready; a second stands by.
		standby, err := start()
		if err != nil {
			return err
		}
		procs = append(procs, standby)
	}

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

	total := int(float64(o.rate) * o.duration.Seconds())
	created := make([]time.Time, total)
	var createErrs atomic.Int64
	jobs := make(chan int, total)
	var wg sync.WaitGroup
	for i := 0; i < o.workers; i++ {
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
				// Retry while the API server is down (apirestart).
				for attempt := 0; ; attempt++ {
					_, err := cs.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{})
					if err == nil {
						break
					}
					if attempt == 300 {
						createErrs.Add(1)
						fmt.Fprintln(os.Stderr, "create:", err)
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}
	profDone := make(chan error, 1)
	if o.cpuProfile != "" {
		go func() {
			profDone <- fetch(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", proc.MetricsURL, int(o.duration.Seconds())), o.cpuProfile)
		}()
	} else {
		profDone <- nil
	}

	// The disruption, a third of the way through.
	var disruptionEnd time.Time
	disrupted := make(chan error, 1)
	go func() {
		time.Sleep(o.duration / 3) // schedule, not a wait for a result
		var err error
		switch o.scenario {
		case "kill":
			_ = procs[0].Cmd.Process.Signal(syscall.SIGKILL)
			var p *testenv.Process
			if p, err = start(); err == nil {
				procs = append(procs, p)
			}
		case "failover":
			_ = procs[0].Cmd.Process.Signal(syscall.SIGKILL)
		case "outage":
			rec.failing.Store(true)
			time.Sleep(o.outage)
			rec.failing.Store(false)
		case "apirestart":
			rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			err = cp.RestartAPIServer(rctx)
			cancel()
		}
		disruptionEnd = time.Now()
		disrupted <- err
	}()

	genStart := time.Now()
	interval := time.Second / time.Duration(o.rate)
	for i := 0; i < total; i++ {
		if d := time.Until(genStart.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d) // pacing the load generator, not waiting on a result
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	genTook := time.Since(genStart)
	if err := <-disrupted; err != nil {
		return fmt.Errorf("scenario %s: %w", o.scenario, err)
	}
	ok := int(int64(total) - createErrs.Load())
	_ = waitFor(90*time.Second, func() bool { return rec.distinct() >= ok+1 })
	cpu1, _ := proc.CPUSeconds()
	rss, _ := proc.PeakRSSBytes()
	anon, file, _ := proc.RSSSplit()
	if o.cpuProfile != "" {
		if err := fetch(proc.MetricsURL+"/debug/pprof/heap", o.cpuProfile+".heap"); err != nil {
			fmt.Fprintln(os.Stderr, "heap profile:", err)
		}
	}
	if err := <-profDone; err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
	}
	after, err := cp.ExporterRequests()
	if err != nil {
		return err
	}

	rec.mu.Lock()
	var lat []time.Duration
	var caughtUp time.Time
	delivered, dups := 0, 0
	for i := 0; i < total; i++ {
		rc, ok := rec.got[fmt.Sprintf("bench-%06d", i)]
		if !ok {
			continue
		}
		delivered++
		dups += rc.count - 1
		lat = append(lat, rc.at.Sub(created[i]))
		if o.scenario != "none" && created[i].Before(disruptionEnd) && rc.at.After(caughtUp) {
			caughtUp = rc.at
		}
	}
	rec.mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	window := after[len(before):]
	verbs := map[string]int{}
	checkpointWrites := 0
	for _, r := range window {
		verbs[r.Verb]++
		if strings.Contains(r.RequestURI, "/configmaps") && (r.Verb == "update" || r.Verb == "create") {
			checkpointWrites++
		}
	}
	span := time.Minute
	if len(window) > 0 {
		span = window[len(window)-1].Received.Sub(before[len(before)-1].Received)
	}
	fmt.Printf("eventide end-to-end benchmark (scenario %s, enrichment %v, eventide GOMAXPROCS %q)\n", o.scenario, o.enrich, o.gomaxprocs)
	fmt.Printf("  load:         %d events about %d pods, asked %d/s for %s, achieved %.0f/s (%d create errors)\n",
		total, o.pods, o.rate, o.duration, float64(total)/genTook.Seconds(), createErrs.Load())
	fmt.Printf("  delivered:    %d\n  lost:         %d\n  duplicates:   %d\n", delivered, ok-delivered, dups)
	fmt.Printf("  latency:      p50 %s  p99 %s  max %s (create request start → webhook received)\n",
		pct(0.50).Round(100*time.Microsecond), pct(0.99).Round(100*time.Microsecond), pct(1).Round(100*time.Microsecond))
	if o.scenario == "none" {
		cpu := cpu1 - cpu0
		fmt.Printf("  eventide CPU: %.2f s (%.0f µs per event; USER_HZ resolution 10 ms)\n", cpu, cpu/float64(max(delivered, 1))*1e6)
		fmt.Printf("  peak RSS:     %.1f MB (at the end: %.1f MB anonymous, %.1f MB file pages of the binary)\n",
			float64(rss)/1e6, float64(anon)/1e6, float64(file)/1e6)
	} else if !caughtUp.IsZero() {
		fmt.Printf("  caught up:    %s after the disruption ended (every event created before then delivered)\n",
			max(0, caughtUp.Sub(disruptionEnd)).Round(10*time.Millisecond))
	}
	fmt.Printf("  API requests after start-up: %d %v; checkpoint writes %d (%.0f per minute)\n",
		len(window), verbs, checkpointWrites, float64(checkpointWrites)/span.Minutes())
	if ok-delivered != 0 {
		return fmt.Errorf("%d lost", ok-delivered)
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

// fetch saves what url answers to path.
func fetch(url, path string) error {
	resp, err := http.Get(url)
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
