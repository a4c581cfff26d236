package sinks

import (
	"runtime"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/eventide/eventide/internal/testenv"
)

// Templates that would allocate gigabytes load, and fail when rendered as
// a template error for that event: the process lives, and the render
// allocates no more than a few times MaxRenderBytes (the race detector's
// bookkeeping included), where unbounded they took gigabytes.
func TestTemplatesCannotExhaustMemory(t *testing.T) {
	ev := testenv.SampleEvent()
	for _, text := range []string{
		`{{ repeat 100000000000 "x" }}`,
		`{{ repeat 2000000 "x" }}`,
		`{{ until 100000000000 | len }}`,
		`{{ untilStep 0 100000000000 1 | len }}`,
		`{{ untilStep 100000000000 0 -1 | len }}`,
		`{{ seq 100000000000 }}`,
		`{{ seq 1 100000000000 }}`,
		`{{ seq 0 1 100000000000 }}`,
		`{{ randAlpha 100000000000 }}`,
		`{{ randAlphaNum 100000000000 }}`,
		`{{ randAscii 100000000000 }}`,
		`{{ randNumeric 100000000000 }}`,
		`{{ indent 1000000000 "x" }}`,
		`{{ nindent 1000 (repeat 1000000 "\n") }}`,
		`{{ replace "x" (repeat 1000 "y") (repeat 1000000 "x") }}`,
		`{{ range until 100000 }}{{ repeat 1000 "x" }}{{ end }}`, // each call small, the output not
	} {
		t.Run(text, func(t *testing.T) {
			tmpl, err := ParseTemplate(text)
			if err != nil {
				t.Fatalf("does not load: %v", err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			out, err := tmpl.Render(ev)
			runtime.ReadMemStats(&after)
			if !IsTemplateError(err) {
				t.Fatalf("render: %d bytes, error %v; want a template error", len(out), err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32*MaxRenderBytes {
				t.Errorf("allocated %d bytes before failing", alloc)
			}
		})
	}
}

// What stays within the bound still works as sprig documents it.
func TestBoundedFuncsKeepSprigsResults(t *testing.T) {
	ev := testenv.SampleEvent()
	for text, want := range map[string]string{
		`{{ repeat 3 "ab" }}`:              "ababab",
		`{{ until 3 }}`:                    "[0 1 2]",
		`{{ until -2 }}`:                   "[0 -1]",
		`{{ untilStep 0 10 4 }}`:           "[0 4 8]",
		`{{ seq 3 }}`:                      "1 2 3",
		`{{ seq 2 -1 }}`:                   "2 1 0 -1",
		`{{ seq 0 5 12 }}`:                 "0 5 10",
		`{{ randAlpha 5 | len }}`:          "5",
		`{{ indent 2 "a\nb" }}`:            "  a\n  b",
		`{{ nindent 1 "a" }}`:              "\n a",
		`{{ replace "a" "bb" "aXa" }}`:     "bbXbb",
		`{{ replace "" "-" "ab" }}`:        "-a-b-",
		`{{ .Reason | repeat 2 | lower }}`: strings.Repeat(strings.ToLower(ev.Reason), 2),
	} {
		tmpl, err := ParseTemplate(text)
		if err != nil {
			t.Errorf("%s: %v", text, err)
			continue
		}
		if got, err := tmpl.Render(ev); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", text, got, err, want)
		}
	}
}

// Key and certificate generation and password hashing are refused at
// load: a payload has no use for them and each call costs what the
// template asks.
func TestExpensiveFuncsRefusedAtLoad(t *testing.T) {
	for _, text := range []string{
		`{{ genPrivateKey "rsa" }}`, `{{ genCA "x" 3650 }}`, `{{ genSelfSignedCert "x" nil nil 1 }}`,
		`{{ bcrypt "x" }}`, `{{ htpasswd "u" "p" }}`, `{{ derivePassword 1 "long" "p" "u" "s" }}`,
		`{{ env "HOME" }}`, `{{ expandenv "$HOME" }}`, `{{ getHostByName "x" }}`,
	} {
		if _, err := ParseTemplate(text); err == nil || !strings.Contains(err.Error(), "not defined") {
			t.Errorf("%s: %v, want refused at load", text, err)
		}
	}
}

// A receiver's maxPayloadBytes bounds its payload, layout or whole event:
// past it the event fails as a template error, alone.
func TestMaxPayloadBytes(t *testing.T) {
	ev := testenv.SampleEvent()
	ev.Message = strings.Repeat("m", 4000)
	var layout yaml.Node
	if err := yaml.Unmarshal([]byte(`msg: "{{ .Message }}"`), &layout); err != nil {
		t.Fatal(err)
	}
	for name, l := range map[string]yaml.Node{"whole event": {}, "layout": layout} {
		small, err := NewPayload("receivers[0].webhook", l, false, 2048)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := small.Render(ev); !IsTemplateError(err) || !strings.Contains(err.Error(), "maxPayloadBytes") && !strings.Contains(err.Error(), "over 2048") {
			t.Errorf("%s over maxPayloadBytes: %v, want a template error", name, err)
		}
		def, _ := NewPayload("receivers[0].webhook", l, false, 0)
		if _, err := def.Render(ev); err != nil {
			t.Errorf("%s within the default bound: %v", name, err)
		}
	}
}
