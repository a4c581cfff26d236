package sinks

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"text/template"
	"text/template/parse"

	"github.com/eventide/eventide/pkg/kube/event"
)

// Most template leaves are plain field chains: "{{ .Reason }}",
// "#{{ .InvolvedObject.Labels.owner }}-alerts", "{{ with
// .InvolvedObject.Workload }}{{ .Name }}{{ end }}". text/template resolves
// every name by reflection on each execution; for such templates the
// chains are resolved once, at parse time, to field indexes, method
// indexes and map keys. The fast form covers text, field chains, "." and
// if/with (with else) on a field chain. Anything else (pipes, functions,
// range, variables, a value with a String method) runs through
// text/template unchanged, and so does a chain that meets a nil pointer or
// a method error at run time, so the output and errors are text/template's
// own.

type stepKind uint8

const (
	stepField stepKind = iota
	stepMethod
	stepEventMethod
	stepMapKey
)

type step struct {
	kind   stepKind
	index  []int                                    // stepField
	method int                                      // stepMethod, on the pointer type
	call   func(*event.EnhancedEvent) reflect.Value // stepEventMethod
	key    reflect.Value                            // stepMapKey
}

type partKind uint8

const (
	partText  partKind = iota
	partValue          // print chain's value
	partIf             // body if chain's value is true, else els
	partWith           // body with dot = chain's value if true, else els
)

type fastPart struct {
	kind      partKind
	text      string
	chain     []step // empty: dot itself
	body, els []fastPart
}

var (
	eventType    = reflect.TypeOf(&event.EnhancedEvent{})
	errorType    = reflect.TypeOf((*error)(nil)).Elem()
	stringerType = reflect.TypeOf((*fmt.Stringer)(nil)).Elem()
)

// compileFast returns the fast form of t, or nil when t needs text/template.
func compileFast(t *template.Template) []fastPart {
	if t.Tree == nil || t.Tree.Root == nil || len(t.Templates()) > 1 {
		return nil
	}
	parts, ok := compileList(t.Tree.Root, eventType)
	if !ok {
		return nil
	}
	return parts
}

// compileList compiles list with dot of type dot.
func compileList(list *parse.ListNode, dot reflect.Type) (parts []fastPart, ok bool) {
	if list == nil {
		return nil, true
	}
	parts = []fastPart{}
	for _, n := range list.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			parts = append(parts, fastPart{kind: partText, text: string(n.Text)})
		case *parse.ActionNode:
			chain, t, ok := compilePipe(n.Pipe, dot)
			if !ok || !printable(t) {
				return nil, false
			}
			parts = append(parts, fastPart{kind: partValue, chain: chain})
		case *parse.IfNode:
			p, ok := compileBranch(partIf, &n.BranchNode, dot)
			if !ok {
				return nil, false
			}
			parts = append(parts, p)
		case *parse.WithNode:
			p, ok := compileBranch(partWith, &n.BranchNode, dot)
			if !ok {
				return nil, false
			}
			parts = append(parts, p)
		default:
			return nil, false
		}
	}
	return parts, true
}

// compileBranch compiles an if or a with whose condition is a chain.
func compileBranch(kind partKind, n *parse.BranchNode, dot reflect.Type) (fastPart, bool) {
	chain, t, ok := compilePipe(n.Pipe, dot)
	// An interface's dynamic type is only known at run time.
	if !ok || t.Kind() == reflect.Interface {
		return fastPart{}, false
	}
	bodyDot := dot
	if kind == partWith {
		bodyDot = t
	}
	body, ok1 := compileList(n.List, bodyDot)
	els, ok2 := compileList(n.ElseList, dot)
	return fastPart{kind: kind, chain: chain, body: body, els: els}, ok1 && ok2
}

// compilePipe resolves a pipeline that is one field chain or "." from dot.
func compilePipe(p *parse.PipeNode, dot reflect.Type) ([]step, reflect.Type, bool) {
	if p == nil || len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return nil, nil, false
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.DotNode:
		return []step{}, dot, true
	case *parse.FieldNode:
		return resolveChain(dot, a.Ident)
	}
	return nil, nil, false
}

// resolveChain resolves idents from type t the way text/template's
// evalField does (method on the pointer, then field, then map key); ok is
// false when the chain is not plain.
func resolveChain(t reflect.Type, idents []string) (chain []step, _ reflect.Type, ok bool) {
	for _, id := range idents {
		ptr := t
		if ptr.Kind() != reflect.Pointer {
			ptr = reflect.PointerTo(t)
		}
		if m, ok := ptr.MethodByName(id); ok {
			mt := m.Type // includes the receiver
			if mt.NumIn() != 1 || mt.NumOut() < 1 || mt.NumOut() > 2 || (mt.NumOut() == 2 && mt.Out(1) != errorType) {
				return nil, nil, false
			}
			if t.Kind() != reflect.Pointer {
				return nil, nil, false // method on an addressable field: leave it to text/template
			}
			if call := eventMethod(t, m); call != nil {
				chain = append(chain, step{kind: stepEventMethod, call: call})
			} else {
				chain = append(chain, step{kind: stepMethod, method: m.Index})
			}
			t = mt.Out(0)
			continue
		}
		st := t
		if st.Kind() == reflect.Pointer {
			st = st.Elem()
		}
		switch st.Kind() {
		case reflect.Struct:
			f, ok := st.FieldByName(id)
			if !ok || !f.IsExported() {
				return nil, nil, false
			}
			chain = append(chain, step{kind: stepField, index: f.Index})
			t = f.Type
		case reflect.Map:
			if st.Key().Kind() != reflect.String {
				return nil, nil, false
			}
			chain = append(chain, step{kind: stepMapKey, key: reflect.ValueOf(id).Convert(st.Key())})
			t = st.Elem()
		default:
			return nil, nil, false
		}
	}
	return chain, t, true
}

// eventMethod calls an event's getter without reflect.Call, for the
// result types getters have; nil for any other method.
func eventMethod(t reflect.Type, m reflect.Method) func(*event.EnhancedEvent) reflect.Value {
	if t != eventType {
		return nil
	}
	switch f := m.Func.Interface().(type) {
	case func(*event.EnhancedEvent) string:
		return func(e *event.EnhancedEvent) reflect.Value { return reflect.ValueOf(f(e)) }
	case func(*event.EnhancedEvent) int32:
		return func(e *event.EnhancedEvent) reflect.Value { return reflect.ValueOf(f(e)) }
	case func(*event.EnhancedEvent) int64:
		return func(e *event.EnhancedEvent) reflect.Value { return reflect.ValueOf(f(e)) }
	case func(*event.EnhancedEvent) bool:
		return func(e *event.EnhancedEvent) reflect.Value { return reflect.ValueOf(f(e)) }
	}
	return nil
}

// printable reports whether text/template prints a t with plain fmt
// formatting, as writeScalar does.
func printable(t reflect.Type) bool {
	if t.Implements(stringerType) || t.Implements(errorType) || reflect.PointerTo(t).Implements(stringerType) {
		return false
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// executeFast writes the fast form; ok is false when text/template must
// run instead (a nil pointer or a method error on the way).
func executeFast(buf *bytes.Buffer, parts []fastPart, ev *event.EnhancedEvent) (ok bool) {
	start := buf.Len()
	if !execParts(buf, parts, reflect.ValueOf(ev)) {
		buf.Truncate(start)
		return false
	}
	return true
}

func execParts(buf *bytes.Buffer, parts []fastPart, dot reflect.Value) bool {
	for i := range parts {
		p := &parts[i]
		if p.kind == partText {
			buf.WriteString(p.text)
			continue
		}
		v, ok := eval(dot, p.chain)
		if !ok {
			return false
		}
		switch {
		case p.kind == partValue:
			writeScalar(buf, v)
		case !truth(v):
			ok = execParts(buf, p.els, dot)
		case p.kind == partWith:
			ok = execParts(buf, p.body, v)
		default:
			ok = execParts(buf, p.body, dot)
		}
		if !ok {
			return false
		}
	}
	return true
}

// truth is text/template's truth of a value (its isTrue).
func truth(v reflect.Value) bool {
	if !v.IsValid() {
		return false
	}
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() > 0
	case reflect.Bool:
		return v.Bool()
	case reflect.Complex64, reflect.Complex128:
		return v.Complex() != 0
	case reflect.Chan, reflect.Func, reflect.Pointer, reflect.UnsafePointer, reflect.Interface:
		return !v.IsNil()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() != 0
	case reflect.Float32, reflect.Float64:
		return v.Float() != 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() != 0
	}
	return true // structs
}

// eval follows chain from dot.
func eval(v reflect.Value, chain []step) (reflect.Value, bool) {
	for _, s := range chain {
		switch s.kind {
		case stepEventMethod:
			v = s.call(v.Interface().(*event.EnhancedEvent))
		case stepMethod:
			out := v.Method(s.method).Call(nil)
			if len(out) == 2 && !out[1].IsNil() {
				return reflect.Value{}, false
			}
			v = out[0]
		case stepField, stepMapKey:
			if v.Kind() == reflect.Pointer {
				if v.IsNil() {
					return reflect.Value{}, false
				}
				v = v.Elem()
			}
			if s.kind == stepField {
				v = v.FieldByIndex(s.index)
				continue
			}
			mv := v.MapIndex(s.key)
			if !mv.IsValid() {
				mv = reflect.Zero(v.Type().Elem()) // missingkey=zero
			}
			v = mv
		}
	}
	return v, true
}

func writeScalar(buf *bytes.Buffer, v reflect.Value) {
	var tmp [24]byte
	switch v.Kind() {
	case reflect.String:
		buf.WriteString(v.String())
	case reflect.Bool:
		buf.Write(strconv.AppendBool(tmp[:0], v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		buf.Write(strconv.AppendInt(tmp[:0], v.Int(), 10))
	default:
		buf.Write(strconv.AppendUint(tmp[:0], v.Uint(), 10))
	}
}
