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
// "#{{ .InvolvedObject.Labels.owner }}-alerts". text/template resolves
// every name by reflection on each execution; for such templates the
// chain is resolved once, at parse time, to field indexes, method indexes
// and map keys. Anything else (pipes, functions, if/with/range, a value
// with a String method) runs through text/template unchanged, and so does
// a chain that meets a nil pointer or a method error at run time, so the
// output and errors are text/template's own.

type stepKind uint8

const (
	stepField stepKind = iota
	stepMethod
	stepMapKey
)

type step struct {
	kind   stepKind
	index  []int         // stepField
	method int           // stepMethod, on the pointer type
	key    reflect.Value // stepMapKey
}

type fastPart struct {
	text  string
	chain []step // nil for a text part
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
	var parts []fastPart
	for _, n := range t.Tree.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			parts = append(parts, fastPart{text: string(n.Text)})
		case *parse.ActionNode:
			if n.Pipe == nil || len(n.Pipe.Decl) > 0 || len(n.Pipe.Cmds) != 1 || len(n.Pipe.Cmds[0].Args) != 1 {
				return nil
			}
			f, ok := n.Pipe.Cmds[0].Args[0].(*parse.FieldNode)
			if !ok {
				return nil
			}
			chain := resolveChain(eventType, f.Ident)
			if chain == nil {
				return nil
			}
			parts = append(parts, fastPart{chain: chain})
		default:
			return nil
		}
	}
	return parts
}

// resolveChain resolves idents from type t the way text/template's
// evalField does (method on the pointer, then field, then map key), or
// returns nil when the chain is not plain.
func resolveChain(t reflect.Type, idents []string) []step {
	var chain []step
	for _, id := range idents {
		ptr := t
		if ptr.Kind() != reflect.Pointer {
			ptr = reflect.PointerTo(t)
		}
		if m, ok := ptr.MethodByName(id); ok {
			mt := m.Type // includes the receiver
			if mt.NumIn() != 1 || mt.NumOut() < 1 || mt.NumOut() > 2 || (mt.NumOut() == 2 && mt.Out(1) != errorType) {
				return nil
			}
			if t.Kind() != reflect.Pointer {
				return nil // method on an addressable field: leave it to text/template
			}
			chain = append(chain, step{kind: stepMethod, method: m.Index})
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
				return nil
			}
			chain = append(chain, step{kind: stepField, index: f.Index})
			t = f.Type
		case reflect.Map:
			if st.Key().Kind() != reflect.String {
				return nil
			}
			chain = append(chain, step{kind: stepMapKey, key: reflect.ValueOf(id).Convert(st.Key())})
			t = st.Elem()
		default:
			return nil
		}
	}
	// Only print kinds whose text/template output is plain fmt formatting.
	if t.Implements(stringerType) || t.Implements(errorType) || reflect.PointerTo(t).Implements(stringerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return chain
	}
	return nil
}

// executeFast writes the fast form; ok is false when text/template must
// run instead (a nil pointer or a method error on the way).
func executeFast(buf *bytes.Buffer, parts []fastPart, ev *event.EnhancedEvent) (ok bool) {
	start := buf.Len()
	for i := range parts {
		p := &parts[i]
		if p.chain == nil {
			buf.WriteString(p.text)
			continue
		}
		v := reflect.ValueOf(ev)
		for _, s := range p.chain {
			switch s.kind {
			case stepMethod:
				out := v.Method(s.method).Call(nil)
				if len(out) == 2 && !out[1].IsNil() {
					buf.Truncate(start)
					return false
				}
				v = out[0]
			case stepField, stepMapKey:
				if v.Kind() == reflect.Pointer {
					if v.IsNil() {
						buf.Truncate(start)
						return false
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
		writeScalar(buf, v)
	}
	return true
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
