package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Limits on a configuration, so that a hostile or broken file (an alias
// bomb, a layout with a hundred thousand keys) is refused in milliseconds
// instead of taking seconds and gigabytes. Real route files are a few
// kilobytes and a few hundred nodes.
const (
	// MaxConfigBytes is the largest config file.
	MaxConfigBytes = 1 << 20
	// MaxConfigNodes bounds the YAML nodes of the file with every alias
	// expanded: what the key check, the layouts and the templates walk.
	MaxConfigNodes = 20000
	// MaxConfigTemplates bounds the values holding {{ }}: each parsed
	// template costs about 25 KB (text/template copies sprig's function
	// table), so this keeps a load under about 60 MB.
	MaxConfigTemplates = 2000
	// MaxPayloadBytesLimit bounds a receiver's maxPayloadBytes: what one
	// payload may hold in memory while it is sent.
	MaxPayloadBytesLimit = 16 << 20
)

// checkSize refuses a file over MaxConfigBytes, or one whose aliases
// expand it beyond MaxConfigNodes. The count memoises each node's expanded
// size, so a bomb is measured in time linear in the file.
func checkSize(data []byte, doc *yaml.Node) error {
	if len(data) > MaxConfigBytes {
		return fmt.Errorf("config is %d bytes; the limit is %d (MaxConfigBytes): a route file is normally a few KB", len(data), MaxConfigBytes)
	}
	type count struct{ nodes, templates int }
	tooMany := count{MaxConfigNodes + 1, 0}
	memo := map[*yaml.Node]count{}
	var size func(n *yaml.Node, depth int) count
	size = func(n *yaml.Node, depth int) count {
		if v, ok := memo[n]; ok {
			return v
		}
		if depth > 100 {
			return tooMany // nested deeper than any real config
		}
		memo[n] = tooMany // an alias cycle counts as too large
		total := count{nodes: 1}
		if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "{{") {
			total.templates = 1
		}
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			c := size(n.Alias, depth+1)
			total.nodes, total.templates = total.nodes+c.nodes, total.templates+c.templates
		}
		for _, child := range n.Content {
			c := size(child, depth+1)
			total.nodes, total.templates = total.nodes+c.nodes, total.templates+c.templates
			if total.nodes > MaxConfigNodes {
				break
			}
		}
		memo[n] = total
		return total
	}
	c := size(doc, 0)
	switch {
	case c.nodes > MaxConfigNodes:
		return fmt.Errorf("config expands to more than %d YAML nodes (MaxConfigNodes), counting each alias at every use: refused as an alias bomb or an oversized layout", MaxConfigNodes)
	case c.templates > MaxConfigTemplates:
		return fmt.Errorf("config holds %d templates ({{ }} values, counting each alias at every use); the limit is %d (MaxConfigTemplates)", c.templates, MaxConfigTemplates)
	}
	return nil
}

// keyAt is a config key's path and its value node.
type keyAt struct {
	path  string
	value *yaml.Node
}

// nodePaths maps each line of the file to the keys on it, outermost first
// (in flow style, `delivery: {timeout: x, queueSize: y}`, several), so
// that a YAML type error, which gives only a line, can name its path.
func nodePaths(n *yaml.Node, path string, out map[int][]keyAt) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := join(path, n.Content[i].Value)
			out[n.Content[i].Line] = append(out[n.Content[i].Line], keyAt{p, n.Content[i+1]})
			nodePaths(n.Content[i+1], p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			nodePaths(c, fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
}

// keyFor picks, of the keys on a line, the one a type error is about: the
// innermost whose value has the error's YAML kind and starts with the
// value it quotes (yaml.v3 cuts long ones to 7 characters and "...").
func keyFor(keys []keyAt, kind, quoted string) (keyAt, bool) {
	prefix := strings.TrimSuffix(quoted, "...")
	for i := len(keys) - 1; i >= 0; i-- {
		v := keys[i].value
		if v.ShortTag() == "!!"+kind && strings.HasPrefix(v.Value, prefix) {
			return keys[i], true
		}
	}
	if len(keys) > 0 {
		return keys[len(keys)-1], true
	}
	return keyAt{}, false
}

var typeErrorRE = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")

// typeNames says in the config's words what a Go type expects.
var typeNames = map[string]string{
	"int": "an integer", "int32": "an integer", "int64": "an integer", "float32": "a number",
	"bool": "true or false", "string": "a string", "time.Duration": "a duration (30s, 5m)",
	"map[string]string": "a mapping of strings", "[]string": "a list of strings",
	"config.StringList": "a string or a list of strings", "[]route.Config": "a list of routes",
	"route.Config": "a route (drop, match, routes)", "[]route.Rule": "a list of rules",
	"route.Rule": "a rule (a mapping)", "[]config.ReceiverConfig": "a list of receivers",
	"config.Config": "a mapping of settings",
}

var yamlKinds = map[string]string{"str": "a string", "int": "an integer", "float": "a number", "bool": "a boolean",
	"map": "a mapping", "seq": "a list", "null": "nothing"}

// typeError rewrites a yaml.v3 type error with its path and in the
// config's words; it never quotes the value (it may be a substituted
// secret). envVars are the ${VAR}s substituted into a value, to name.
func typeError(msg string, paths map[int][]keyAt, envVars map[*yaml.Node]string) error {
	m := typeErrorRE.FindStringSubmatch(msg)
	if m == nil {
		return fmt.Errorf("%s", strings.TrimPrefix(msg, "yaml: "))
	}
	line, _ := strconv.Atoi(m[1])
	got, want := yamlKinds[m[2]], typeNames[m[4]]
	if got == "" {
		got = m[2]
	}
	if want == "" {
		want = m[4][strings.LastIndexByte(m[4], '.')+1:]
	}
	where := fmt.Sprintf("line %d", line)
	if k, ok := keyFor(paths[line], m[2], m[3]); ok {
		where = fmt.Sprintf("%s (line %d)", k.path, line)
		if vars := envVars[k.value]; vars != "" {
			where = fmt.Sprintf("%s from %s (line %d)", k.path, vars, line)
		}
	}
	return fmt.Errorf("%s: %s where %s is expected", where, got, want)
}
