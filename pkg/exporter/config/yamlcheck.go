package config

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	configType         = reflect.TypeOf(Config{})
	yamlNodeType       = reflect.TypeOf(yaml.Node{})
	unmarshalerType    = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	receiverConfigType = reflect.TypeOf(ReceiverConfig{})
)

// checkKeys walks n against the Go type t and reports every mapping key the
// type does not have, with its path and line, so a misspelt key is an error
// rather than a rule that silently matches everything.
func checkKeys(n *yaml.Node, t reflect.Type, path string, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if t == receiverConfigType {
		checkMapping(n, t, receiverFields(), path, errs)
		return
	}
	if t == yamlNodeType || reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		checkMapping(n, t, yamlFields(t), path, errs)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkKeys(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), errs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	}
}

// checkMapping checks the keys of mapping n against fields, the keys of t.
func checkMapping(n *yaml.Node, t reflect.Type, fields map[string]reflect.Type, path string, errs *[]error) {
	if n.Kind != yaml.MappingNode {
		return // the decoder reports the type mismatch
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		if seen[k.Value] {
			*errs = append(*errs, fmt.Errorf("%s (line %d): key given twice", p, k.Line))
		}
		seen[k.Value] = true
		ft, ok := fields[k.Value]
		if !ok {
			*errs = append(*errs, unknownKey(t, p, k, fields))
			continue
		}
		checkKeys(v, ft, p, errs)
	}
}

// receiverFields are the keys of a receiver: name, delivery and every
// receiver type of the registry.
func receiverFields() map[string]reflect.Type {
	fields := yamlFields(receiverConfigType)
	for _, rt := range receiverTypes {
		fields[rt.key] = reflect.TypeOf(rt.new())
	}
	return fields
}

func unknownKey(t reflect.Type, path string, k *yaml.Node, fields map[string]reflect.Type) error {
	known := make([]string, 0, len(fields))
	for name := range fields {
		known = append(known, name)
	}
	sort.Strings(known)
	hint := ""
	for _, name := range known {
		if strings.EqualFold(name, k.Value) || editDistance(strings.ToLower(name), strings.ToLower(k.Value)) <= 2 {
			hint = fmt.Sprintf(" (did you mean %q? keys are case-sensitive)", name)
			break
		}
	}
	return fmt.Errorf("%s (line %d): unknown key%s; known keys: %s", path, k.Line, hint, strings.Join(known, ", "))
}

// yamlFields maps the YAML keys of struct t (inline structs flattened) to
// their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, v := range yamlFields(ft) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// substituteEnv replaces ${NAME} in every scalar value with the environment
// variable NAME, as the old tool's os.ExpandEnv did for secrets, but only
// outside {{ }} so template variables ($x, $.Reason) survive, and never the
// unbraced $NAME form. $${ writes a literal ${. An unset variable is an
// error: an empty API key is better caught at load. In a template (a node
// of templates), a value is literal text: {{ or }} in a secret neither
// breaks the template nor shows in its errors.
//
// Outside templates, an unquoted value is typed by what it became, as
// when the old tool expanded the file before parsing it: `port: ${PORT}`
// is an integer when PORT is 8080. vars records, per value, the variables
// substituted in it, so a type error names them (never their value).
func substituteEnv(n *yaml.Node, path string, lookup func(string) (string, bool), templates map[*yaml.Node]bool, vars map[*yaml.Node]string, errs *[]error) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			substituteEnv(n.Content[i+1], join(path, n.Content[i].Value), lookup, templates, vars, errs)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			substituteEnv(c, fmt.Sprintf("%s[%d]", path, i), lookup, templates, vars, errs)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		literal := func(v string) string { return v }
		if templates[n] {
			literal = templateLiteral
		}
		v, err := expandEnv(n.Value, lookup, literal)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s (line %d): %w", path, n.Line, err))
			return
		}
		if !templates[n] && n.Style == 0 && n.Tag == "!!str" {
			n.Tag = "" // resolved again from the substituted text
			vars[n] = strings.Join(envRefRE.FindAllString(n.Value, -1), ", ")
		}
		n.Value = v
	}
}

// envRefRE finds the ${NAME} references of a value.
var envRefRE = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*\}`)

// templateLiteral writes v so that a template prints it as it is.
func templateLiteral(v string) string {
	if !strings.Contains(v, "{{") && !strings.Contains(v, "}}") {
		return v
	}
	return "{{ " + strconv.Quote(v) + " }}"
}

// templateNodes marks the scalars of n that are parsed as templates: values
// of fields tagged tmpl:"true", and every leaf of a layout (a yaml.Node).
func templateNodes(n *yaml.Node, t reflect.Type, inTemplate bool, out map[*yaml.Node]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		return // its anchor is walked where it is defined
	}
	if t == yamlNodeType {
		inTemplate = true
	}
	if n.Kind == yaml.ScalarNode {
		if inTemplate {
			out[n] = true
		}
		return
	}
	if t == yamlNodeType {
		for i, c := range n.Content {
			if n.Kind != yaml.MappingNode || i%2 == 1 { // a layout's keys are names
				templateNodes(c, yamlNodeType, true, out)
			}
		}
		return
	}
	switch {
	case t == receiverConfigType || t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		fields, tmpl := yamlFields(t), templateKeys(t)
		if t == receiverConfigType {
			fields = receiverFields()
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if ft, ok := fields[n.Content[i].Value]; ok {
				templateNodes(n.Content[i+1], ft, tmpl[n.Content[i].Value], out)
			}
		}
	case t.Kind() == reflect.Map || t.Kind() == reflect.Slice:
		for i, c := range n.Content {
			if t.Kind() == reflect.Map && i%2 == 0 {
				continue // keys are names, not templates
			}
			templateNodes(c, t.Elem(), inTemplate, out)
		}
	}
}

// templateKeys are the YAML keys of struct t whose values are templates.
func templateKeys(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Tag.Get("tmpl") == "true" {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			out[name] = true
		}
	}
	return out
}

func expandEnv(s string, lookup func(string) (string, bool), literal func(string) string) (string, error) {
	var b strings.Builder
	depth := 0
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "{{"):
			depth++
			b.WriteString("{{")
			i += 2
		case strings.HasPrefix(s[i:], "}}") && depth > 0:
			depth--
			b.WriteString("}}")
			i += 2
		case depth == 0 && strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case depth == 0 && strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated ${ reference")
			}
			name := s[i+2 : i+end]
			if !validEnvName(name) {
				return "", fmt.Errorf("${%s}: not an environment variable name (write $${ for a literal ${)", name)
			}
			v, ok := lookup(name)
			if !ok {
				return "", fmt.Errorf("environment variable %s is not set", name)
			}
			b.WriteString(literal(v))
			i += end + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// editDistance is the Levenshtein distance, for "did you mean" hints.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
