package sinks

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"text/template"

	"github.com/eventide/eventide/pkg/kube/event"
)

// Template is a text/template parsed once at load. A template with no
// actions renders its text without executing anything.
type Template struct {
	tmpl     *template.Template
	fast     []fastPart // see fastpath.go; nil when text/template must run
	constant string
	isConst  bool
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// ParseTemplate parses text as a Go template with eventide's functions.
// Missing map keys render as the empty string, not "<no value>".
func ParseTemplate(text string) (*Template, error) {
	if !strings.Contains(text, "{{") {
		return &Template{constant: text, isConst: true}, nil
	}
	t, err := template.New("").Option("missingkey=zero").Funcs(funcMap).Parse(text)
	if err != nil {
		return nil, cleanTemplateError(err)
	}
	if err := checkRecursion(t); err != nil {
		return nil, err
	}
	return &Template{tmpl: t, fast: compileFast(t)}, nil
}

// Render executes the template on ev.
func (t *Template) Render(ev *event.EnhancedEvent) (string, error) {
	if t.isConst {
		return t.constant, nil
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := t.renderTo(buf, ev); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// renderTo executes the template on ev into buf.
func (t *Template) renderTo(buf *bytes.Buffer, ev *event.EnhancedEvent) error {
	if t.isConst {
		buf.WriteString(t.constant)
		return nil
	}
	start := buf.Len()
	if t.fast != nil && executeFast(buf, t.fast, ev) {
		if buf.Len()-start > MaxRenderBytes {
			buf.Truncate(start)
			return &TemplateError{Err: errRenderTooLarge}
		}
		return nil
	}
	if err := t.tmpl.Execute(boundedWriter{buf: buf, max: start + MaxRenderBytes}, ev); err != nil {
		if errors.Is(err, errRenderTooLarge) {
			return &TemplateError{Err: errRenderTooLarge}
		}
		return &TemplateError{Err: cleanTemplateError(err)}
	}
	return nil
}

var errRenderTooLarge = fmt.Errorf("output over %d bytes (MaxRenderBytes)", MaxRenderBytes)

// boundedWriter writes into buf until it would hold more than max bytes;
// text/template stops at the first failed write.
type boundedWriter struct {
	buf *bytes.Buffer
	max int
}

func (w boundedWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.max {
		return 0, errRenderTooLarge
	}
	return w.buf.Write(p)
}

// TemplateError is a template that failed while rendering an event.
type TemplateError struct{ Err error }

func (e *TemplateError) Error() string { return "template: " + e.Err.Error() }
func (e *TemplateError) Unwrap() error { return e.Err }

// IsTemplateError reports whether err comes from rendering a template.
func IsTemplateError(err error) bool {
	var te *TemplateError
	return errors.As(err, &te)
}

// cleanTemplateError drops the empty template name text/template puts in
// front of its messages (`template: :1:5: …`).
func cleanTemplateError(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "template: ")
	msg = strings.TrimPrefix(msg, ":")
	return errors.New(msg)
}

// TemplateMap is a map of named templates with a stable key order.
type TemplateMap struct {
	Keys  []string
	Items map[string]*Template
}

// ParseTemplateMap parses every value of m; errors name their key under path.
func ParseTemplateMap(path string, m map[string]string) (*TemplateMap, error) {
	tm := &TemplateMap{Items: make(map[string]*Template, len(m))}
	var errs []error
	for _, k := range sortedKeys(m) {
		t, err := ParseTemplate(m[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.%s: %w", path, k, err))
			continue
		}
		tm.Keys = append(tm.Keys, k)
		tm.Items[k] = t
	}
	return tm, errors.Join(errs...)
}

// Render renders every template, in key order.
func (m *TemplateMap) Render(ev *event.EnhancedEvent) ([][2]string, error) {
	out := make([][2]string, 0, len(m.Keys))
	for _, k := range m.Keys {
		v, err := m.Items[k].Render(ev)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// TemplateField is one templated config key: its text (def when empty) is
// parsed into *dst.
type TemplateField struct {
	key, text, def string
	dst            **Template
}

// Field names a templated config key for ParseFields.
func Field(key, text, def string, dst **Template) TemplateField {
	return TemplateField{key: key, text: text, def: def, dst: dst}
}

// Default templates of alert receivers (Opsgenie, OpsCenter): the message
// says what happened to which object; the alias is stable across repeats, so
// they update one alert.
const (
	DefaultAlertMessage = "{{ .Reason }}: {{ .InvolvedObject.Kind }} {{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }}"
	DefaultAlertAlias   = "{{ .InvolvedObject.Kind }}/{{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }}/{{ .Reason }}"
)

// ParseFields parses every field; errors name path.key.
func ParseFields(path string, fields ...TemplateField) error {
	var errs []error
	for _, f := range fields {
		text := f.text
		if text == "" {
			text = f.def
		}
		t, err := ParseTemplate(text)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.%s: %w", path, f.key, err))
			continue
		}
		*f.dst = t
	}
	return errors.Join(errs...)
}

// ParseTemplateList parses each string of a templated list; errors name
// path[i].
func ParseTemplateList(path string, list []string) ([]*Template, error) {
	var errs []error
	out := make([]*Template, 0, len(list))
	for i, text := range list {
		t, err := ParseTemplate(text)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s[%d]: %w", path, i, err))
			continue
		}
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}
