// Command bench measures eventide end to end on a local control plane: it
// creates Warning events about pods at a given rate through the API, runs the
// eventide binary as its own process (as the chart's RBAC user) delivering to
// a local webhook, and reports delivered, lost, duplicates, create→delivery
// latency, eventide's CPU and peak RSS, and the API requests it made after
// start-up (from the API server's audit log).
//
// -scenario breaks something a third of the way through the stream (or at
// -disrupt-at) and reports how eventide came through it:
//
//	none        nothing (the default)
//	kill        eventide is SIGKILLed and started again after -down
//	outage      the webhook answers 503 for -outage (default 4 s)
//	apirestart  kube-apiserver is restarted
//	failover    two replicas with leader election; the leader is SIGKILLed
//
// -ghost, -deleted and -repeat shape the load (fractions of the operations):
//
//	-ghost 0.2     events about pods that never existed, over -ghost-names names
//	-deleted 0.1   events about pods deleted just before their first event
//	-repeat 0.3    count+1 on an earlier event, as kubelet does on a repeat
//
// and -pods, -rate and -duration set its scale. -receiver kinesis, sqs,
// firehose or eventbridge delivers to that batching receiver (against an
// in-process AWS fake, aws.go) instead of the webhook. -floor also runs the same
// load against internal/cmd/floor (one protobuf watch, one POST per event)
// right after eventide, and reports eventide's CPU per event as a ratio;
// -rounds N runs N such pairs and reports the spread.
//
//	go run ./internal/cmd/bench -eventide bin/eventide -rate 300 -duration 10s -scenario kill -disrupt-at 0.5 -down 10s
//	go run ./internal/cmd/bench -eventide bin/eventide -ghost 0.2 -ghost-names 1000
//	go run ./internal/cmd/bench -eventide bin/eventide -receiver kinesis -floor
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
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

type options struct {
	binary, scenario, cpuProfile, gomaxprocs, receiver string
	rate, pods, workers, ghostNames                    int
	duration, outage, down                             time.Duration
	disruptAt                                          float64
	enrich, keep, floor, services                      bool
	ghost, deleted, repeat                             float64
}

func main() {
	var o options
	flag.StringVar(&o.binary, "eventide", "", "eventide binary (default: build one)")
	flag.IntVar(&o.rate, "rate", 500, "events created per second")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long to create events")
	flag.IntVar(&o.pods, "pods", 100, "pods the events are about")
	flag.IntVar(&o.workers, "workers", 32, "concurrent creators")
	flag.BoolVar(&o.enrich, "enrich", true, "enrichment on (omitLookup: false)")
	flag.BoolVar(&o.services, "services", false, "enrich.services on, with 20 Services in the namespace (two select the load pods)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work folder")
	flag.StringVar(&o.scenario, "scenario", "none", "none, kill, outage, apirestart or failover")
	flag.DurationVar(&o.outage, "outage", 4*time.Second, "with -scenario outage: how long the webhook answers 503")
	flag.DurationVar(&o.down, "down", 0, "with -scenario kill: how long eventide stays down before it starts again")
	flag.Float64Var(&o.disruptAt, "disrupt-at", 1.0/3, "when the disruption comes, as a fraction of -duration")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write eventide's CPU profile during the load to this file")
	flag.StringVar(&o.gomaxprocs, "gomaxprocs", "", "GOMAXPROCS for the eventide process only (what a CPU limit sets in a pod)")
	flag.Float64Var(&o.ghost, "ghost", 0, "fraction of events about pods that never existed")
	flag.IntVar(&o.ghostNames, "ghost-names", 1000, "with -ghost: distinct names of the missing pods")
	flag.Float64Var(&o.deleted, "deleted", 0, "fraction of events about pods deleted just before their first event")
	flag.Float64Var(&o.repeat, "repeat", 0, "fraction of operations that bump count on an earlier event")
	flag.BoolVar(&o.floor, "floor", false, "then run the same load against the floor exporter and compare CPU")
	flag.StringVar(&o.receiver, "receiver", "webhook", "eventide's receiver: webhook, or a batching one (kinesis, sqs, firehose, eventbridge) against an in-process AWS fake; the floor always POSTs to the webhook")
	rounds := flag.Int("rounds", 1, "runs of the load (with -floor: eventide/floor pairs, alternating, to show the machine's noise)")
	crash := flag.Bool("crashloop", false, "instead: the crash-loop scenario against Slack, with and without grouping (use -duration 30s)")
	flag.Parse()
	if *crash {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := crashLoop(ctx, o)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	var ratios []float64
	var err error
	for round := 0; round < max(1, *rounds) && err == nil; round++ {
		var res, floor result
		if res, err = run(o, "eventide"); err != nil || !o.floor {
			continue
		}
		if floor, err = run(o, "floor"); err == nil {
			ratios = append(ratios, res.cpuPerEvent/floor.cpuPerEvent)
			fmt.Printf("CPU per event: eventide %.0f µs, floor %.0f µs: %.2f× the floor\n",
				res.cpuPerEvent*1e6, floor.cpuPerEvent*1e6, ratios[len(ratios)-1])
		}
	}
	if len(ratios) > 1 {
		sort.Float64s(ratios)
		n := len(ratios)
		fmt.Printf("CPU against the floor over %d pairs: %.2f× to %.2f×, median %.2f×\n",
			n, ratios[0], ratios[n-1], (ratios[(n-1)/2]+ratios[n/2])/2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// result is what the comparison with the floor needs from a run.
type result struct{ cpuPerEvent float64 }

type receipt struct {
	at       time.Time
	count    int
	key      string // the first delivery's Idempotency-Key
	sameKey  int    // repeats that carried it too
	owner    string
	workload string
	deleted  bool
}

// sink is the webhook eventide delivers to; it can fail on purpose. It
// keys what it gets by event name and count, so each occurrence counts.
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
	s.record(b, now, r.Header.Get("Idempotency-Key"))
}

// record counts one delivered payload, received at now with an
// Idempotency-Key ("" for the AWS fakes).
func (s *sink) record(b []byte, now time.Time, key string) {
	var p struct {
		Name     string `json:"name"`
		Count    int    `json:"count"`
		Owner    string `json:"owner"`
		Workload string `json:"workload"`
		Deleted  bool   `json:"deleted"`
	}
	if json.Unmarshal(b, &p) != nil || p.Name == "" {
		return
	}
	s.seen.Add(1)
	occ := occurrence(p.Name, p.Count)
	s.mu.Lock()
	if rc, ok := s.got[occ]; ok {
		rc.count++
		if key != "" && key == rc.key {
			rc.sameKey++
		}
	} else {
		s.got[occ] = &receipt{at: now, count: 1, key: key, owner: p.Owner, workload: p.Workload, deleted: p.Deleted}
	}
	s.mu.Unlock()
}

func occurrence(name string, count int) string { return fmt.Sprintf("%s#%d", name, count) }

func (s *sink) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// op kinds of the load.
const (
	opLive    = iota // a new event about a live pod
	opGhost          // a new event about a pod that never existed
	opDeleted        // a new event about a pod deleted just before
	opRepeat         // count+1 on an earlier event
)

// kindOf spreads the kinds over the operations by their fractions,
// deterministically.
func (o options) kindOf(i int) int {
	x := float64((i*7919)%1000) / 1000
	switch {
	case x < o.repeat && i < 10:
		return opLive // nothing to repeat yet
	case x < o.repeat:
		return opRepeat
	case x < o.repeat+o.ghost:
		return opGhost
	case x < o.repeat+o.ghost+o.deleted:
		return opDeleted
	}
	return opLive
}

// expectation is one occurrence the load made, to be delivered.
type expectation struct {
	at   time.Time
	kind int
}

func run(o options, exporter string) (result, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "eventide-bench-")
	if err != nil {
		return result{}, err
	}
	if o.keep {
		fmt.Println("work folder:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	cp, cluster, stopCluster, err := kubeenv.LocalCluster(ctx)
	if err != nil {
		return result{}, err
	}
	defer stopCluster()
	cs := cluster.CS
	const ns = "bench"
	if err := cluster.CreateNamespace(ctx, ns); err != nil {
		return result{}, err
	}
	w, err := cluster.CreateWorkload(ctx, ns, "load", o.pods, map[string]string{"owner": "perf"})
	if err != nil {
		return result{}, err
	}
	if o.services {
		if err := createServices(ctx, cs, ns); err != nil {
			return result{}, err
		}
	}
	total := int(float64(o.rate) * o.duration.Seconds())
	// Pods to delete just before their first event: one per deleted op.
	var doomed []*corev1.Pod
	if o.deleted > 0 {
		n := 0
		for i := 0; i < total; i++ {
			if o.kindOf(i) == opDeleted {
				n++
			}
		}
		dw, err := cluster.CreateWorkload(ctx, ns, "doomed", n, map[string]string{"owner": "doomed"})
		if err != nil {
			return result{}, err
		}
		doomed = dw.Pods
	}

	rec := &sink{got: map[string]*receipt{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	srv := &http.Server{Handler: rec, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	url := "http://" + ln.Addr().String() + "/"
	if exporter == "eventide" && o.receiver != "webhook" {
		fake, err := startBatching(o.receiver, rec)
		if err != nil {
			return result{}, err
		}
		defer fake.Close()
		url = fake.URL
	}
	binary, config, err := o.prepare(dir, exporter, ns, url)
	if err != nil {
		return result{}, err
	}
	logFile, err := os.Create(filepath.Join(dir, exporter+".log"))
	if err != nil {
		return result{}, err
	}
	defer logFile.Close()
	start := func(extra ...string) (*testenv.Process, error) {
		if o.gomaxprocs != "" {
			os.Setenv("GOMAXPROCS", o.gomaxprocs) // inherited by eventide only: this process has started its runtime
			defer os.Unsetenv("GOMAXPROCS")
		}
		return testenv.StartEventide(ctx, binary, config, cp.ExporterKubeconfig, io.Discard, logFile, extra...)
	}
	var extra []string
	pprofURL := ""
	if o.cpuProfile != "" && exporter == "eventide" {
		port, err := testenv.FreePort()
		if err != nil {
			return result{}, err
		}
		pprofURL = fmt.Sprintf("http://127.0.0.1:%d", port)
		extra = append(extra, "-pprof", "-pprof-address", strings.TrimPrefix(pprofURL, "http://"))
	}
	startAt := time.Now()
	proc, err := start(extra...)
	if err != nil {
		return result{}, err
	}
	startup := time.Since(startAt)
	anonAtReady, _, _ := proc.RSSSplit()
	sampling, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	peakAnon := sampleAnon(sampling, proc)
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
			return result{}, err
		}
		procs = append(procs, standby)
	}

	// Warm-up: one event through the whole path.
	if _, err := cs.CoreV1().Events(ns).Create(ctx, kubeenv.PodEvent(w.Pods[0], "warmup", "Normal", "Scheduled", "warm-up"), metav1.CreateOptions{}); err != nil {
		return result{}, err
	}
	if err := waitFor(30*time.Second, func() bool { return rec.seen.Load() >= 1 }); err != nil {
		return result{}, fmt.Errorf("warm-up event not delivered: %w", err)
	}
	before, err := cp.ExporterRequests()
	if err != nil {
		return result{}, err
	}
	cpu0, _ := proc.CPUSeconds()

	var (
		mu        sync.Mutex
		expected  = map[string]expectation{}
		createErr atomic.Int64
	)
	doomedOf := make([]int, total) // deleted op -> its pod in doomed; ghost op -> its name
	expect := func(name string, count int, at time.Time, kind int) {
		mu.Lock()
		expected[occurrence(name, count)] = expectation{at: at, kind: kind}
		mu.Unlock()
	}
	// retry retries f while the API server is down (apirestart) or a
	// repeat conflicts with another.
	retry := func(f func() error) {
		for attempt := 0; ; attempt++ {
			err := f()
			if err == nil {
				return
			}
			if attempt == 300 {
				createErr.Add(1)
				fmt.Fprintln(os.Stderr, "load:", err)
				return
			}
			time.Sleep(100 * time.Millisecond) // pacing retries, not waiting on a result
		}
	}
	reasons := [...][3]string{
		{"Warning", "BackOff", "Back-off restarting failed container"},
		{"Warning", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503"},
		{"Warning", "FailedScheduling", "0/3 nodes are available: 3 Insufficient memory."},
		{"Warning", "OOMKilling", "Memory cgroup out of memory: Killed process 4242 (app)"},
	}
	names := make([]string, total)
	doomedNext, ghostNext := 0, 0
	for i := range names {
		names[i] = fmt.Sprintf("bench-%06d", i)
		switch o.kindOf(i) {
		case opDeleted:
			doomedOf[i] = doomedNext
			doomedNext++
		case opGhost:
			doomedOf[i] = ghostNext % o.ghostNames
			ghostNext++
		}
	}
	jobs := make(chan int, total)
	var wg sync.WaitGroup
	for range o.workers {
		wg.Go(func() {
			for i := range jobs {
				kind := o.kindOf(i)
				r := reasons[i%4]
				switch kind {
				case opRepeat:
					// Bump the nearest earlier event this load created.
					target := ""
					for j := i - 1 - i%7; j >= 0 && target == ""; j-- {
						if o.kindOf(j) != opRepeat {
							target = names[j]
						}
					}
					retry(func() error {
						ev, err := cs.CoreV1().Events(ns).Get(ctx, target, metav1.GetOptions{})
						if err != nil {
							return err
						}
						ev.Count++
						ev.LastTimestamp = metav1.Now()
						at := time.Now() // the update is the repeat; the read before it is the load's own
						if ev, err = cs.CoreV1().Events(ns).Update(ctx, ev, metav1.UpdateOptions{}); err == nil {
							expect(ev.Name, int(ev.Count), at, kind)
						}
						return err
					})
					continue
				case opGhost:
					pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns,
						Name: fmt.Sprintf("ghost-%04d", doomedOf[i]), UID: types.UID(fmt.Sprintf("ghost-uid-%d", doomedOf[i]))}}
					create(ctx, cs, retry, expect, kubeenv.PodEvent(pod, names[i], r[0], r[1], r[2]), kind)
				case opDeleted:
					pod := doomed[doomedOf[i]]
					retry(func() error {
						err := cs.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{})
						if apierrors.IsNotFound(err) {
							return nil
						}
						return err
					})
					create(ctx, cs, retry, expect, kubeenv.PodEvent(pod, names[i], r[0], r[1], r[2]), kind)
				default:
					create(ctx, cs, retry, expect, kubeenv.PodEvent(w.Pods[i%len(w.Pods)], names[i], r[0], r[1], r[2]), kind)
				}
			}
		})
	}
	profDone := make(chan error, 1)
	if o.cpuProfile != "" && exporter == "eventide" {
		go func() {
			profDone <- fetch(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", pprofURL, int(o.duration.Seconds())), o.cpuProfile)
		}()
	} else {
		profDone <- nil
	}

	// The disruption, a third of the way through.
	var disruptionEnd time.Time
	disrupted := make(chan error, 1)
	go func() {
		time.Sleep(time.Duration(float64(o.duration) * o.disruptAt)) // schedule, not a wait for a result
		var err error
		switch o.scenario {
		case "kill":
			_ = procs[0].Cmd.Process.Signal(syscall.SIGKILL)
			time.Sleep(o.down) // the outage asked for
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
		return result{}, fmt.Errorf("scenario %s: %w", o.scenario, err)
	}
	mu.Lock()
	want := len(expected)
	mu.Unlock()
	_ = waitFor(90*time.Second, func() bool { return rec.distinct() >= want+1 })
	cpu1, _ := proc.CPUSeconds()
	rss, _ := proc.PeakRSSBytes()
	anon, file, _ := proc.RSSSplit()
	peak := max(peakAnon(), anon, anonAtReady)
	if o.cpuProfile != "" && exporter == "eventide" {
		if err := fetch(pprofURL+"/debug/pprof/heap", o.cpuProfile+".heap"); err != nil {
			fmt.Fprintln(os.Stderr, "heap profile:", err)
		}
	}
	if err := <-profDone; err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
	}
	after, err := cp.ExporterRequests()
	if err != nil {
		return result{}, err
	}

	rec.mu.Lock()
	lat := map[int][]time.Duration{}
	var all []time.Duration
	var caughtUp time.Time
	delivered, dups, sameKey, unenriched := 0, 0, 0, 0
	for key, exp := range expected {
		rc, ok := rec.got[key]
		if !ok {
			continue
		}
		delivered++
		dups += rc.count - 1
		sameKey += rc.sameKey
		d := rc.at.Sub(exp.at)
		lat[exp.kind] = append(lat[exp.kind], d)
		all = append(all, d)
		if exp.kind == opDeleted && (rc.owner != "doomed" || rc.workload == "" || !rc.deleted) {
			unenriched++
		}
		if o.scenario != "none" && exp.at.Before(disruptionEnd) && rc.at.After(caughtUp) {
			caughtUp = rc.at
		}
	}
	rec.mu.Unlock()
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
	receiver := o.receiver
	if exporter == "floor" {
		receiver = "webhook"
	}
	fmt.Printf("%s end-to-end benchmark (receiver %s, scenario %s, enrichment %v, GOMAXPROCS %q; ghost %.2f over %d names, deleted %.2f, repeat %.2f)\n",
		exporter, receiver, o.scenario, o.enrich, o.gomaxprocs, o.ghost, o.ghostNames, o.deleted, o.repeat)
	fmt.Printf("  load:         %d operations about %d pods, asked %d/s for %s, achieved %.0f/s (%d errors)\n",
		total, o.pods, o.rate, o.duration, float64(total)/genTook.Seconds(), createErr.Load())
	fmt.Printf("  delivered:    %d of %d occurrences\n  lost:         %d\n  duplicates:   %d (%.2f%%; %d with the first delivery's Idempotency-Key)\n",
		delivered, want, want-delivered, dups, 100*float64(dups)/float64(max(want, 1)), sameKey)
	fmt.Printf("  latency:      %s (operation request start → webhook received)\n", percentiles(all))
	for kind, label := range map[int]string{opLive: "live pods", opGhost: "ghost pods", opDeleted: "deleted pods", opRepeat: "repeats"} {
		if len(lat[kind]) > 0 && len(lat[kind]) < len(all) {
			fmt.Printf("    %-12s  %s (%d)\n", label+":", percentiles(lat[kind]), len(lat[kind]))
		}
	}
	if o.deleted > 0 {
		fmt.Printf("  deleted pods: %d events without the pod's owner label, workload or deleted flag\n", unenriched)
	}
	res := result{cpuPerEvent: (cpu1 - cpu0) / float64(max(delivered, 1))}
	if o.scenario == "none" {
		fmt.Printf("  CPU:          %.2f s (%.0f µs per event; USER_HZ resolution 10 ms)\n", cpu1-cpu0, res.cpuPerEvent*1e6)
		fmt.Printf("  peak RSS:     %.1f MB (at the end: %.1f MB anonymous, %.1f MB file pages of the binary)\n",
			float64(rss)/1e6, float64(anon)/1e6, float64(file)/1e6)
		fmt.Printf("  anonymous:    peak %.1f MB (sampled every 100 ms from ready), %.1f MB when ready\n", float64(peak)/1e6, float64(anonAtReady)/1e6)
		fmt.Printf("  start-up:     %s to ready (caches of %d pods synced)\n", startup.Round(10*time.Millisecond), o.pods)
	} else if !caughtUp.IsZero() {
		fmt.Printf("  caught up:    %s after the disruption ended (every event created before then delivered)\n",
			max(0, caughtUp.Sub(disruptionEnd)).Round(10*time.Millisecond))
	}
	fmt.Printf("  API requests after start-up: %d %v; checkpoint writes %d (%.0f per minute)\n",
		len(window), verbs, checkpointWrites, float64(checkpointWrites)/span.Minutes())
	if want-delivered != 0 {
		return res, fmt.Errorf("%d lost", want-delivered)
	}
	return res, nil
}

// create makes ev and expects its delivery.
func create(ctx context.Context, cs kubernetes.Interface, retry func(func() error), expect func(string, int, time.Time, int), ev *corev1.Event, kind int) {
	retry(func() error {
		at := time.Now()
		_, err := cs.CoreV1().Events(ev.Namespace).Create(ctx, ev, metav1.CreateOptions{})
		if err == nil {
			expect(ev.Name, 1, at, kind)
		}
		return err
	})
}

func percentiles(lat []time.Duration) string {
	if len(lat) == 0 {
		return "none"
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(100 * time.Microsecond)
	}
	return fmt.Sprintf("p50 %s  p99 %s  max %s", pct(0.5), pct(0.99), pct(1))
}

// prepare returns the binary to run and its config: eventide's route file,
// or the floor's JSON.
func (o options) prepare(dir, exporter, ns, url string) (binary, config string, err error) {
	config = filepath.Join(dir, exporter+"-config")
	if exporter == "floor" {
		binary = filepath.Join(dir, "floor")
		cmd := exec.Command("go", "build", "-o", binary, "./internal/cmd/floor")
		cmd.Dir, cmd.Stderr = testenv.RepoRoot(), os.Stderr
		if err := cmd.Run(); err != nil {
			return "", "", fmt.Errorf("build floor: %w", err)
		}
		b, _ := json.Marshal(map[string]string{"namespace": ns, "url": url})
		return binary, config, os.WriteFile(config, b, 0o600)
	}
	binary = o.binary
	if binary == "" {
		if binary, err = testenv.BuildEventide(dir); err != nil {
			return "", "", err
		}
	}
	top := fmt.Sprintf("logLevel: warn\nomitLookup: %v\nspool: {dir: %s}\ndeadLetter: {path: %s}\n",
		!o.enrich, filepath.Join(dir, "spool"), filepath.Join(dir, "dead.jsonl"))
	if o.services {
		top += "enrich: {services: true}\n"
	}
	if o.scenario == "failover" {
		top += "leaderElection: {enabled: true, leaderElectionID: bench, leaseDuration: 4s, renewDeadline: 3s, retryPeriod: 500ms}\n"
	}
	const payload = `{name: "{{ .Name }}", owner: "{{ .InvolvedObject.Labels.owner }}", ` +
		`workload: "{{ with .InvolvedObject.Workload }}{{ .Name }}{{ end }}", deleted: !bool "{{ .InvolvedObject.Deleted }}", ` +
		`reason: "{{ .Reason }}", count: !int "{{ .GetCount }}"}`
	const delivery = "    delivery: {initialBackoff: 100ms, maxBackoff: 1s}\n"
	receivers := kubeenv.HookConfig(ns, url, "        "+payload+"\n", delivery)
	if b, ok := batching[o.receiver]; ok {
		receivers = fmt.Sprintf("namespace: %s\nroute: {routes: [{match: [{receiver: bench}]}]}\nreceivers:\n  - name: bench\n    %s\n%s",
			ns, fmt.Sprintf(b.config, url, payload), delivery)
	}
	return binary, config, os.WriteFile(config, []byte(top+receivers), 0o600)
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

// createServices makes 20 Services in ns: two select the load pods (by
// app, by owner), the others select nothing there.
func createServices(ctx context.Context, cs kubernetes.Interface, ns string) error {
	for i := 0; i < 20; i++ {
		sel := map[string]string{"app": fmt.Sprint("other-", i)}
		switch i {
		case 0:
			sel = map[string]string{"app": "load"}
		case 1:
			sel = map[string]string{"owner": "perf"}
		}
		_, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("svc-", i)},
			Spec:       corev1.ServiceSpec{Selector: sel, Ports: []corev1.ServicePort{{Port: 80}}},
		}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create service: %w", err)
		}
	}
	return nil
}

// sampleAnon samples proc's anonymous RSS every 100 ms until ctx ends;
// the returned func gives the highest seen so far.
func sampleAnon(ctx context.Context, proc *testenv.Process) func() int64 {
	var peak atomic.Int64
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if anon, _, err := proc.RSSSplit(); err == nil && anon > peak.Load() {
				peak.Store(anon)
			}
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	return peak.Load
}
