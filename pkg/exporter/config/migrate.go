package config

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// migrate accepts what kubernetes-event-exporter files hold and eventide
// would otherwise refuse or read differently, and says so in a warning:
//   - `layout: {}` (the Bitnami chart's default file receiver) made the old
//     tool write {} for every event; it is dropped, so the whole event goes;
//   - `webhook.streamName` (copied from the old README) does nothing;
//   - a bare $NAME naming a set variable was expanded by the old tool;
//     eventide expands ${NAME} only;
//   - `name:` in a rule was ignored by the old tool (the rule matched every
//     object); eventide matches the involved object's name.
func migrate(root *yaml.Node, lookup func(string) (string, bool)) []string {
	var warnings []string
	if receivers := mapValue(root, "receivers"); receivers != nil && receivers.Kind == yaml.SequenceNode {
		for i, r := range receivers.Content {
			if r.Kind != yaml.MappingNode {
				continue
			}
			for j := 0; j+1 < len(r.Content); j += 2 {
				typ, settings := r.Content[j].Value, r.Content[j+1]
				path := fmt.Sprintf("receivers[%d].%s", i, typ)
				if dropKey(settings, "layout", func(v *yaml.Node) bool { return v.Kind == yaml.MappingNode && len(v.Content) == 0 }) {
					warnings = append(warnings, path+".layout: {} made kubernetes-event-exporter send {} for every event; eventide ignores it and sends the whole event")
				}
				if typ == "webhook" && dropKey(settings, "streamName", func(*yaml.Node) bool { return true }) {
					warnings = append(warnings, path+".streamName has no effect on a webhook (it came from an old README example); remove it")
				}
			}
		}
	}
	if n := countRuleKey(mapValue(root, "route"), "name"); n > 0 {
		warnings = append(warnings, fmt.Sprintf("%d route rule(s) use name:, which kubernetes-event-exporter ignored (such a rule matched every object); eventide matches the involved object's name, so these rules now route as written", n))
	}
	warnings = append(warnings, bareVars(root, "", lookup)...)
	return warnings
}

// mapValue is the value of key in mapping n, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// dropKey removes key from mapping n when drop says so about its value.
func dropKey(n *yaml.Node, key string, drop func(*yaml.Node) bool) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && drop(n.Content[i+1]) {
			n.Content = append(n.Content[:i], n.Content[i+2:]...)
			return true
		}
	}
	return false
}

// countRuleKey counts the rules (drop and match entries) of the route tree
// under n that set key.
func countRuleKey(n *yaml.Node, key string) int {
	if n == nil || n.Kind != yaml.MappingNode {
		return 0
	}
	count := 0
	for _, list := range []string{"drop", "match"} {
		if rules := mapValue(n, list); rules != nil && rules.Kind == yaml.SequenceNode {
			for _, r := range rules.Content {
				if mapValue(r, key) != nil {
					count++
				}
			}
		}
	}
	if routes := mapValue(n, "routes"); routes != nil && routes.Kind == yaml.SequenceNode {
		for _, r := range routes.Content {
			count += countRuleKey(r, key)
		}
	}
	return count
}

var bareVarRE = regexp.MustCompile(`\$([A-Za-z_][A-Za-z0-9_]*)`)

// bareVars warns about $NAME outside {{ }} where NAME is set: the old tool
// replaced it, eventide keeps it as written.
func bareVars(n *yaml.Node, path string, lookup func(string) (string, bool)) []string {
	var out []string
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, bareVars(n.Content[i+1], join(path, n.Content[i].Value), lookup)...)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			out = append(out, bareVars(c, fmt.Sprintf("%s[%d]", path, i), lookup)...)
		}
	case yaml.ScalarNode:
		for _, m := range bareVarRE.FindAllStringSubmatchIndex(outsideTemplates(n.Value), -1) {
			name := n.Value[m[2]:m[3]]
			if _, set := lookup(name); set {
				out = append(out, fmt.Sprintf("%s: $%s is not replaced (eventide expands ${%s} only, the old tool expanded $%s too); write ${%s}", path, name, name, name, name))
			}
		}
	}
	return out
}

// outsideTemplates blanks what is inside {{ }}, keeping offsets.
func outsideTemplates(s string) string {
	b := []byte(s)
	depth := 0
	for i := 0; i < len(b); i++ {
		switch {
		case strings.HasPrefix(s[i:], "{{"):
			depth++
		case strings.HasPrefix(s[i:], "}}") && depth > 0:
			depth--
			b[i], b[i+1] = ' ', ' '
			i++
			continue
		}
		if depth > 0 {
			b[i] = ' '
		}
	}
	return string(b)
}
