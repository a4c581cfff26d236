package sinks

import (
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"
)

// checkRecursion refuses a template whose defined templates call each other
// in a cycle: text/template would only stop it at a depth of 100000 calls,
// costing a fifth of a second per event before failing.
func checkRecursion(t *template.Template) error {
	calls := map[string][]string{}
	for _, d := range t.Templates() {
		if d.Tree != nil && d.Name() != "" {
			calls[d.Name()] = templateCalls(d.Tree.Root, nil)
		}
	}
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case active:
			return fmt.Errorf("template %q calls itself (%s): recursion is refused", name, strings.Join(append(path, name), " -> "))
		case done:
			return nil
		}
		state[name] = active
		for _, callee := range calls[name] {
			if err := visit(callee, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = done
		return nil
	}
	for name := range calls {
		if err := visit(name, nil); err != nil {
			return err
		}
	}
	return nil
}

// templateCalls appends the names n calls with {{ template }}.
func templateCalls(n parse.Node, out []string) []string {
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				out = templateCalls(c, out)
			}
		}
	case *parse.TemplateNode:
		out = append(out, n.Name)
	case *parse.IfNode:
		out = templateCalls(n.List, templateCalls(n.ElseList, out))
	case *parse.RangeNode:
		out = templateCalls(n.List, templateCalls(n.ElseList, out))
	case *parse.WithNode:
		out = templateCalls(n.List, templateCalls(n.ElseList, out))
	}
	return out
}
