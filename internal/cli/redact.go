package cli

import (
	"bytes"
	"encoding/json"
	"strings"
)

// redactedJSON marshals v with every ${VAR} value replaced by <redacted>,
// wherever it appears in the JSON: as it is, or escaped as a JSON string.
type redactedJSON struct {
	v any
	o *offline
}

func (r redactedJSON) MarshalJSON() ([]byte, error) {
	b, err := marshalPlain(r.v)
	if err != nil || len(r.o.secrets) == 0 {
		return b, err
	}
	s := string(b)
	for _, v := range r.o.secrets {
		s = strings.ReplaceAll(s, v, "<redacted>")
		if q, _ := marshalPlain(v); len(q) > 2 {
			s = strings.ReplaceAll(s, string(q[1:len(q)-1]), "<redacted>")
		}
	}
	return []byte(s), nil
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
