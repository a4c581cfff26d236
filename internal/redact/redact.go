// Package redact keeps secrets out of what eventide shows people: the
// values ${VAR} put into a configuration file are replaced wherever they
// appear (route-test -render, replay -dry-run, the status page). URLs in
// errors are cut to scheme and host where they are made
// (sinks.RedactURL).
package redact

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"sync"
)

// placeholder replaces a secret.
const placeholder = "<redacted>"

// minSecret is the shortest value treated as a secret: replacing "1" or
// "ab" everywhere would make text unreadable and protect nothing.
const minSecret = 4

// Secrets are the values ${VAR} put into a configuration. The zero value
// is ready; it is safe for concurrent use (the status page reads while a
// reload adds).
type Secrets struct {
	mu sync.RWMutex
	// values are the secrets and their forms escaped in a JSON string,
	// longest first: a secret containing another goes whole.
	values []string
}

// Lookup wraps lookup (os.LookupEnv) for config.LoadOptions.LookupEnv,
// remembering every value it returns.
func (s *Secrets) Lookup(lookup func(string) (string, bool)) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := lookup(name)
		if ok && len(v) >= minSecret {
			s.add(v)
		}
		return v, ok
	}
}

func (s *Secrets) add(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.values, v) {
		return
	}
	s.values = append(s.values, v)
	if q, _ := marshalPlain(v); len(q) > 2 && string(q[1:len(q)-1]) != v {
		s.values = append(s.values, string(q[1:len(q)-1]))
	}
	slices.SortStableFunc(s.values, func(a, b string) int { return len(b) - len(a) })
}

// String is text with every secret replaced, as it is and as escaped in
// a JSON string.
func (s *Secrets) String(text string) string {
	if s == nil {
		return text
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.values {
		text = strings.ReplaceAll(text, v, placeholder)
	}
	return text
}

// JSON marshals v as marshalPlain does, with every secret replaced.
func (s *Secrets) JSON(v any) json.Marshaler { return redactedJSON{v: v, s: s} }

type redactedJSON struct {
	v any
	s *Secrets
}

func (r redactedJSON) MarshalJSON() ([]byte, error) {
	b, err := marshalPlain(r.v)
	if err != nil {
		return nil, err
	}
	return []byte(r.s.String(string(b))), nil
}

// marshalPlain is json.Marshal without escaping <, > and &: the output is
// read by people and jq, not put in HTML.
func marshalPlain(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
