package sinks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/eventide/eventide/pkg/kube/event"

	"gopkg.in/yaml.v3"
)

// Layout is a payload shape from the config: nested maps and lists whose
// string leaves are templates. It renders straight to JSON, keys in the
// order the config gives them.
//
// A plain string leaf renders as a JSON string (the old tool's behaviour). A
// YAML number, boolean or null stays one. A string leaf tagged !int, !float,
// !bool or !json renders its template and emits the result as that JSON
// type: `count: !int "{{ .Count }}"`, `labels: !json "{{ toJson .InvolvedObject.Labels }}"`.
type Layout struct {
	root layoutNode
}

type layoutNode interface {
	write(buf *bytes.Buffer, ev *event.EnhancedEvent) error
}

// ParseLayout compiles node; errors name the leaf under path.
func ParseLayout(path string, node *yaml.Node) (*Layout, error) {
	var errs []error
	root := parseLayoutNode(path, node, &errs)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Layout{root: root}, nil
}

// Render renders the layout for ev as JSON, at most MaxRenderBytes.
func (l *Layout) Render(ev *event.EnhancedEvent) ([]byte, error) {
	return l.render(ev, MaxRenderBytes)
}

// render renders the layout for ev as JSON, at most limit bytes.
func (l *Layout) render(ev *event.EnhancedEvent, limit int) ([]byte, error) {
	var buf bytes.Buffer
	if err := l.root.write(&buf, ev); err != nil {
		return nil, err
	}
	if buf.Len() > limit {
		return nil, &TemplateError{Err: fmt.Errorf("layout output is %d bytes, over %d", buf.Len(), limit)}
	}
	return buf.Bytes(), nil
}

func parseLayoutNode(path string, n *yaml.Node, errs *[]error) layoutNode {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return rawNode("null")
		}
		return parseLayoutNode(path, n.Content[0], errs)
	case yaml.AliasNode:
		return parseLayoutNode(path, n.Alias, errs)
	case yaml.MappingNode:
		m := &mapNode{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			key, _ := json.Marshal(k)
			m.keys = append(m.keys, key)
			m.values = append(m.values, parseLayoutNode(path+"."+k, n.Content[i+1], errs))
		}
		return m
	case yaml.SequenceNode:
		l := &listNode{}
		for i, c := range n.Content {
			l.items = append(l.items, parseLayoutNode(fmt.Sprintf("%s[%d]", path, i), c, errs))
		}
		return l
	case yaml.ScalarNode:
		return parseScalar(path, n, errs)
	}
	*errs = append(*errs, fmt.Errorf("%s: unsupported YAML node", path))
	return rawNode("null")
}

func parseScalar(path string, n *yaml.Node, errs *[]error) layoutNode {
	switch n.Tag {
	case "!!int", "!!float":
		var f any
		if err := n.Decode(&f); err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %w", path, err))
			return rawNode("null")
		}
		b, err := json.Marshal(f)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %w", path, err))
		}
		return rawNode(b)
	case "!!bool":
		var v bool
		_ = n.Decode(&v)
		return rawNode(strconv.FormatBool(v))
	case "!!null":
		return rawNode("null")
	case "!!str", "!int", "!float", "!bool", "!json", "!string":
	default:
		*errs = append(*errs, fmt.Errorf("%s: unknown tag %s (use !int, !float, !bool, !json or !string)", path, n.Tag))
		return rawNode("null")
	}
	t, err := ParseTemplate(n.Value)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s: %w", path, err))
		return rawNode("null")
	}
	kind := strings.TrimPrefix(n.Tag, "!")
	if kind == "!str" || kind == "string" {
		kind = ""
	}
	if kind == "" && t.isConst {
		b, _ := json.Marshal(n.Value)
		return rawNode(b)
	}
	return &templateNode{path: path, tmpl: t, kind: kind}
}

type rawNode []byte

func (r rawNode) write(buf *bytes.Buffer, _ *event.EnhancedEvent) error {
	buf.Write(r)
	return nil
}

type mapNode struct {
	keys   [][]byte
	values []layoutNode
}

func (m *mapNode) write(buf *bytes.Buffer, ev *event.EnhancedEvent) error {
	buf.WriteByte('{')
	for i, k := range m.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(k)
		buf.WriteByte(':')
		if err := m.values[i].write(buf, ev); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

type listNode struct{ items []layoutNode }

func (l *listNode) write(buf *bytes.Buffer, ev *event.EnhancedEvent) error {
	buf.WriteByte('[')
	for i, it := range l.items {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := it.write(buf, ev); err != nil {
			return err
		}
	}
	buf.WriteByte(']')
	return nil
}

type templateNode struct {
	path string
	tmpl *Template
	kind string // "", int, float, bool, json
}

func (t *templateNode) write(buf *bytes.Buffer, ev *event.EnhancedEvent) error {
	tmp := bufPool.Get().(*bytes.Buffer)
	tmp.Reset()
	defer bufPool.Put(tmp)
	if err := t.tmpl.renderTo(tmp, ev); err != nil {
		return fmt.Errorf("%s: %w", t.path, err)
	}
	if t.kind == "" {
		writeJSONString(buf, tmp.Bytes())
		return nil
	}
	if b := bytes.TrimSpace(tmp.Bytes()); plainValue(t.kind, b) {
		buf.Write(b) // already what JSON has, without a string copy
		return nil
	}
	s := strings.TrimSpace(tmp.String())
	switch t.kind {
	case "int":
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%s: !int: %q is not an integer: %w", t.path, s, &TemplateError{Err: err})
		}
		buf.WriteString(strconv.FormatInt(n, 10)) // "+5" and "007" are not JSON
	case "float":
		f, err := strconv.ParseFloat(s, 64)
		if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
			err = errors.New("JSON has no NaN or infinity")
		}
		if err != nil {
			return fmt.Errorf("%s: !float: %q is not a number: %w", t.path, s, &TemplateError{Err: err})
		}
		buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	case "bool":
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%s: !bool: %q is not a boolean: %w", t.path, s, &TemplateError{Err: err})
		}
		buf.WriteString(strconv.FormatBool(b))
	case "json":
		if s == "" {
			s = "null"
		}
		if !json.Valid([]byte(s)) {
			return fmt.Errorf("%s: !json: output is not JSON: %w", t.path, &TemplateError{Err: errors.New(Truncate(s, 80))})
		}
		buf.WriteString(s)
	}
	return nil
}

// plainValue reports whether b, as rendered for a !int or !bool node, is
// already its JSON form: a short decimal integer (no sign but "-", no
// leading zero) or true/false. Anything else goes through strconv.
func plainValue(kind string, b []byte) bool {
	switch kind {
	case "bool":
		return string(b) == "true" || string(b) == "false"
	case "int":
		digits := bytes.TrimPrefix(b, []byte("-"))
		if len(digits) == 0 || len(digits) > 18 || (digits[0] == '0' && len(digits) > 1) {
			return false
		}
		for _, c := range digits {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	return false
}

// Truncate cuts s to n bytes and marks the cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// writeJSONString writes s as a JSON string without HTML escaping.
func writeJSONString(buf *bytes.Buffer, s []byte) {
	if plainASCII(s) { // most rendered values: nothing to escape
		buf.WriteByte('"')
		buf.Write(s)
		buf.WriteByte('"')
		return
	}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(string(s))
	buf.Truncate(buf.Len() - 1) // Encode appends a newline
}

// plainASCII reports whether s is printable ASCII with no quote or
// backslash: a JSON string as it is.
func plainASCII(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
