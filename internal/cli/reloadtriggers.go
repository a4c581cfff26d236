package cli

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/eventide/eventide/internal/statuspage"
	"github.com/eventide/eventide/pkg/exporter"
	"github.com/eventide/eventide/pkg/exporter/config"
	"github.com/eventide/eventide/pkg/sinks"
)

const (
	// reloadDebounce gathers the several file events of one edit (kubelet
	// writes a folder, then swaps the ..data link) into one reload.
	reloadDebounce = 250 * time.Millisecond
	// reloadMaxDelay bounds the debounce: a change applies at most this
	// long after it was first seen, however many writes follow it.
	reloadMaxDelay = time.Second
	// httpReloadEvery is how often POST /-/reload may reload: the
	// endpoint shares the metrics port, and each reload of a large
	// refused file costs a validation.
	httpReloadEvery = time.Second
)

// reloader re-reads the route file and applies it to the engine: validate,
// then swap. Triggers: the file changing on disk, SIGHUP, POST /-/reload.
type reloader struct {
	path   string
	engine *exporter.Engine
	m      *exporter.Metrics
	log    zerolog.Logger
	deps   sinks.Deps // for the receivers of a new configuration

	httpLimit *rate.Limiter // POST /-/reload
	// lookupEnv resolves ${VAR} (nil: os.LookupEnv); the status page's
	// redaction learns the values through it.
	lookupEnv func(string) (string, bool)

	mu         sync.Mutex
	applied    [32]byte // the content in force
	lastRefuse [32]byte // the last content refused, logged once
	// refusedFile and refusedErr are the file last refused and why: while
	// the path still names that same, unmodified file, a reload answers
	// refusedErr without reading or validating it again.
	refusedFile os.FileInfo
	refusedErr  error
	// last is the last reload's outcome, for the status page.
	last statuspage.ConfigState
}

func newReloader(path string, content []byte, engine *exporter.Engine, m *exporter.Metrics, log zerolog.Logger, deps sinks.Deps) *reloader {
	r := &reloader{path: path, engine: engine, m: m, log: log, deps: deps, applied: sha256.Sum256(content),
		httpLimit: rate.NewLimiter(rate.Every(httpReloadEvery), 1)}
	m.ConfigReloadSuccessful.Set(1)
	m.ConfigReloadSuccessTime.SetToCurrentTime()
	return r
}

// reload applies the file if its content changed. The error lists every
// problem of a file that was refused.
func (r *reloader) reload(trigger string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	fi, statErr := os.Stat(r.path)
	if statErr == nil && r.refusedFile != nil && sameContent(fi, r.refusedFile) {
		r.m.ConfigReloads.WithLabelValues("invalid").Inc()
		return r.refusedErr
	}
	b, err := config.ReadConfigFile(r.path)
	if err != nil {
		return r.refuse(trigger, [32]byte{}, err)
	}
	sum := sha256.Sum256(b)
	r.refusedFile, r.refusedErr = nil, nil
	if sum == r.applied {
		r.m.ConfigReloads.WithLabelValues("unchanged").Inc()
		r.noteReload("unchanged", nil)
		r.log.Debug().Str("trigger", trigger).Msg("configuration unchanged; nothing to apply")
		return nil
	}
	loaded, err := config.Load(b, config.LoadOptions{Deps: r.deps, LookupEnv: r.lookupEnv})
	if err != nil {
		if statErr == nil {
			r.refusedFile, r.refusedErr = fi, err
		}
		return r.refuse(trigger, sum, err)
	}
	restart, err := r.engine.Reload(loaded)
	if err != nil {
		return r.refuse(trigger, sum, err)
	}
	for _, key := range restart {
		r.m.ConfigRestartRequiredKeys.WithLabelValues(key).Inc()
		r.log.Warn().Str("key", key).Msg("restart required: this key only applies at start; the running value is kept, the rest of the file applied")
	}
	for _, w := range loaded.Warnings {
		r.log.Warn().Str("config", r.path).Msg(w)
	}
	setLogLevel(loaded.Config.LogLevel)
	r.applied, r.lastRefuse = sum, [32]byte{}
	r.m.ConfigReloads.WithLabelValues("applied").Inc()
	r.m.ConfigReloadSuccessful.Set(1)
	r.m.ConfigReloadSuccessTime.SetToCurrentTime()
	r.noteReload("applied", nil)
	r.log.Info().Str("trigger", trigger).Str("config", r.path).Msg("configuration applied")
	return nil
}

// noteReload records a reload's outcome; the caller holds r.mu.
func (r *reloader) noteReload(result string, err error) {
	r.last = statuspage.ConfigState{LastReload: time.Now(), Result: result}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				r.last.Errors = append(r.last.Errors, line)
			}
		}
	}
}

// state is the configuration file and its last reload, for the status
// page.
func (r *reloader) state() statuspage.ConfigState {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.last
	st.Path = r.path
	st.Errors = slices.Clone(st.Errors)
	return st
}

// sameContent says that two stats of the config path are of one file,
// not written in between.
func sameContent(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// refuse keeps the running configuration, counts the refusal and logs it
// once per content (the watcher may see one bad edit several times).
func (r *reloader) refuse(trigger string, sum [32]byte, err error) error {
	r.m.ConfigReloads.WithLabelValues("invalid").Inc()
	r.m.ConfigReloadSuccessful.Set(0)
	r.noteReload("refused", err)
	if sum != r.lastRefuse || sum == ([32]byte{}) {
		r.log.Error().Str("trigger", trigger).Str("config", r.path).Err(err).
			Msg("configuration refused; the running configuration stays in force")
	}
	r.lastRefuse = sum
	return err
}

// watch reloads when the config file changes (a plain rewrite, or
// kubelet's swap of the ..data link of a mounted ConfigMap) and on SIGHUP,
// until ctx ends. It watches the folder, since kubelet's swap leaves a
// watch on the file's inode stale, but reacts only to the file's own name
// and ..data: a dead-letter file or spool beside the config must not
// postpone a reload.
func (r *reloader) watch(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var events <-chan fsnotify.Event
	var errs <-chan error
	fw, err := fsnotify.NewWatcher()
	if err == nil {
		err = fw.Add(filepath.Dir(r.path))
	}
	if err != nil {
		r.log.Warn().Err(err).Str("config", r.path).Msg("cannot watch the config file; reload with SIGHUP or POST /-/reload")
	} else {
		defer fw.Close()
		events, errs = fw.Events, fw.Errors
	}
	base := filepath.Base(r.path)
	var debounce <-chan time.Time
	var firstChange time.Time // of the changes the debounce gathers
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = r.reload("SIGHUP")
		case ev := <-events:
			if name := filepath.Base(ev.Name); name != base && name != "..data" {
				continue
			}
			now := time.Now()
			if debounce == nil {
				firstChange = now
			}
			debounce = time.After(min(reloadDebounce, firstChange.Add(reloadMaxDelay).Sub(now)))
		case err := <-errs:
			r.log.Warn().Err(err).Msg("config file watch error")
		case <-debounce:
			debounce = nil
			_ = r.reload("file")
		}
	}
}

// serveHTTP is POST /-/reload: 200 when applied (or unchanged), 400 with
// every error of a refused file, 429 past one reload a second.
func (r *reloader) serveHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	if !r.httpLimit.Allow() {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "reloaded less than a second ago; retry later", http.StatusTooManyRequests)
		return
	}
	if err := r.reload("http"); err != nil {
		var ce *config.ConfigError
		if errors.As(err, &ce) {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

// setLogLevel applies logLevel to every logger (they log at trace and the
// global level filters).
func setLogLevel(logLevel string) {
	level, err := zerolog.ParseLevel(logLevel)
	if err != nil || logLevel == "" {
		level = zerolog.InfoLevel
	}
	zerolog.SetGlobalLevel(level)
}
