// Package statuspage serves eventide's read-only status page on
// -web-address (loopback by default: reach it with kubectl port-forward):
// the overview (/), the recent events and where each went (/events), the
// grouping receivers' groups (/groups) and the silences and inhibitions
// (/silences). Pages are server-rendered html/template with no JavaScript
// and no external asset, refreshed by a meta tag; each has a JSON twin
// (?format=json). model.go builds what they show, rates.go the rates and
// latencies from eventide's own metrics, templates/ the HTML.
package statuspage

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/eventide/eventide/internal/redact"
	"github.com/eventide/eventide/pkg/exporter/recent"
)

// Options are what the pages read.
type Options struct {
	Engine Engine
	// Recent is the ring the engine records events in.
	Recent *recent.Ring
	// Rates, when set, gives the rates and latencies (run its Run).
	Rates *Rates
	// ConfigState is the configuration file and its last reload.
	ConfigState func() ConfigState
	// Secrets are the ${VAR} values, replaced wherever they would show.
	Secrets *redact.Secrets
	Version string
	// Refresh is the pages' auto-refresh period (default 10 s; negative:
	// none); ?refresh=N overrides it per page, 0 turning it off.
	Refresh time.Duration
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

//go:embed templates/*.html
var templateFiles embed.FS

// pages are parsed once: the layout with each page's content.
var pages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range []string{"overview", "events", "groups", "silences"} {
		out[name] = template.Must(template.New("layout.html").Funcs(funcs).
			ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html"))
	}
	return out
}()

type handler struct{ o Options }

// Handler serves the pages.
func Handler(o Options) http.Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Refresh == 0 {
		o.Refresh = 10 * time.Second
	}
	if o.Secrets == nil {
		o.Secrets = &redact.Secrets{}
	}
	h := &handler{o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		h.render(w, r, "overview", "Overview", h.overview(h.o.Now()))
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := recent.Filter{Namespace: q.Get("namespace"), Reason: q.Get("reason"), Receiver: q.Get("receiver"), Outcome: q.Get("outcome")}
		h.render(w, r, "events", "Recent events", h.events(f))
	})
	mux.HandleFunc("GET /groups", func(w http.ResponseWriter, r *http.Request) {
		h.render(w, r, "groups", "Groups", h.groups())
	})
	mux.HandleFunc("GET /silences", func(w http.ResponseWriter, r *http.Request) {
		h.render(w, r, "silences", "Silences", h.silences(h.o.Now()))
	})
	return mux
}

// page is what the layout renders around a page's data.
type page struct {
	Title, Name string
	Refresh     int // seconds; 0: none
	Now         time.Time
	Version     string
	// Standby, when set, says this replica does not deliver and names
	// the leader.
	Standby string
	Data    any
}

func (h *handler) render(w http.ResponseWriter, r *http.Request, name, title string, data any) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Referrer-Policy", "no-referrer")
	if r.URL.Query().Get("format") == "json" {
		hdr.Set("Content-Type", "application/json")
		enc := json.NewEncoder(w) // escapes <, > and &: safe even if a browser sniffs it
		enc.SetIndent("", "  ")
		_ = enc.Encode(data)
		return
	}
	p := page{Title: title, Name: name, Now: h.o.Now(), Version: h.o.Version, Data: data, Refresh: int(h.o.Refresh / time.Second)}
	if v := r.URL.Query().Get("refresh"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 3600 {
			p.Refresh = n
		}
	}
	if h.o.Refresh < 0 && r.URL.Query().Get("refresh") == "" {
		p.Refresh = 0
	}
	if st := h.o.Engine.Status(); st.LeaderElection && !st.Delivering {
		leader := st.Leader
		if leader == "" {
			leader = "not known yet"
		}
		p.Standby = "Standby: this replica waits for the Lease " + st.Lease + " and delivers nothing; the leader is " + leader + "."
	}
	var buf bytes.Buffer
	if err := pages[name].Execute(&buf, p); err != nil {
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		return
	}
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	// No script may run, nothing loads from elsewhere, no page frames it.
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hdr.Set("X-Frame-Options", "DENY")
	_, _ = w.Write(buf.Bytes())
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"ago": func(now, t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return since(now.Sub(t))
	},
	"in": func(now, t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		if d := t.Sub(now); d > 0 {
			return "in " + short(d)
		}
		return "now"
	},
	"ms": func(v *float64) string {
		if v == nil {
			return "—"
		}
		switch {
		case *v < 1:
			return fmt.Sprintf("%.0f ms", *v*1000)
		default:
			return fmt.Sprintf("%.1f s", *v)
		}
	},
	"rate": func(v *float64) string {
		if v == nil {
			return "—"
		}
		return fmt.Sprintf("%.1f", *v)
	},
	"join":  strings.Join,
	"count": func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) },
}

func since(d time.Duration) string {
	if d < 0 {
		return "just now"
	}
	return short(d) + " ago"
}

// short is d rounded to its largest unit ("3m", "2h5m").
func short(d time.Duration) string {
	switch {
	case d < time.Second:
		return "0s"
	case d < time.Minute:
		return d.Truncate(time.Second).String()
	case d < time.Hour:
		return strings.TrimSuffix(d.Truncate(time.Second).String(), "0s")
	default:
		return strings.TrimSuffix(d.Truncate(time.Minute).String(), "0s")
	}
}
