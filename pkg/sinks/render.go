package sinks

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/eventide/eventide/pkg/kube/event"
)

// Renderer renders several templates for one event and keeps the first
// error, naming the key that failed.
type Renderer struct {
	Event *event.EnhancedEvent
	Err   error // the first failure
}

// Render renders t (empty when nil or after a failure).
func (r *Renderer) Render(key string, t *Template) string {
	if t == nil || r.Err != nil {
		return ""
	}
	s, err := t.Render(r.Event)
	if err != nil {
		r.Err = fmt.Errorf("%s: %w", key, err)
	}
	return s
}

// TruncateRunes cuts s to n runes, the last one an ellipsis.
func TruncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// CutBytes cuts s to at most limit bytes on a character boundary, the last
// one an ellipsis when it cut: for a limit that must hold (a chat API
// refuses a message over it), where Truncate may pass n by the ellipsis
// and split a character.
func CutBytes(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	const ellipsis = "…"
	keep := max(limit-len(ellipsis), 0)
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + ellipsis
}

// RenderList renders each template of a list (ParseTemplateList), trimmed,
// leaving out empty results: a mention list where a label is missing
// mentions nobody instead of "".
func (r *Renderer) RenderList(key string, ts []*Template) []string {
	var out []string
	for i, t := range ts {
		if v := strings.TrimSpace(r.Render(fmt.Sprintf("%s[%d]", key, i), t)); v != "" {
			out = append(out, v)
		}
	}
	return out
}
