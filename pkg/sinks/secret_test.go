package sinks

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestSecretRedacts(t *testing.T) {
	var s Secret
	if err := yaml.Unmarshal([]byte(`xoxb-123`), &s); err != nil {
		t.Fatal(err)
	}
	if s.String() != "<redacted>" || s.Value() != "xoxb-123" {
		t.Errorf("%v %q", s, s.Value())
	}
	b, _ := s.MarshalJSON()
	if strings.Contains(string(b), "xoxb") {
		t.Error("JSON leaks the secret")
	}
	if err := yaml.Unmarshal([]byte(`{env: EVENTIDE_SURELY_UNSET}`), &s); err == nil {
		t.Error("unset env reference accepted")
	}
}
