package sinks

import (
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Secret is a configuration value that must never be logged or echoed. In
// YAML it is a plain string (where ${VAR} was already substituted), or a
// reference read at load: `{file: /var/run/secrets/token}` or `{env: NAME}`.
type Secret string

// String redacts the value, so %v and zerolog print "<redacted>".
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "<redacted>"
}

// Value is the secret itself, for the one place that sends it.
func (s Secret) Value() string { return string(s) }

// MarshalYAML redacts the value.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON redacts the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// UnmarshalYAML reads a string or a {file|env} reference.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = Secret(n.Value)
		return nil
	}
	var ref struct {
		File string `yaml:"file"`
		Env  string `yaml:"env"`
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a secret is a string or {file: PATH} or {env: NAME}", n.Line)
	}
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k != "file" && k != "env" {
			return fmt.Errorf("line %d: unknown secret reference %q (use file or env)", n.Content[i].Line, k)
		}
	}
	if err := n.Decode(&ref); err != nil {
		return err
	}
	switch {
	case ref.File != "" && ref.Env != "":
		return fmt.Errorf("line %d: a secret reference has file or env, not both", n.Line)
	case ref.File != "":
		b, err := os.ReadFile(ref.File)
		if err != nil {
			return fmt.Errorf("line %d: secret file: %w", n.Line, err)
		}
		*s = Secret(strings.TrimRight(string(b), "\r\n"))
	case ref.Env != "":
		v, ok := os.LookupEnv(ref.Env)
		if !ok {
			return fmt.Errorf("line %d: secret env %s is not set", n.Line, ref.Env)
		}
		*s = Secret(v)
	default:
		return fmt.Errorf("line %d: empty secret reference", n.Line)
	}
	return nil
}
