package redact

import "testing"

// Values looked up through Secrets are replaced as they are and as
// escaped in JSON; short values are not secrets; nil Secrets replaces
// nothing.
func TestSecrets(t *testing.T) {
	var s Secrets
	env := map[string]string{"TOKEN": `xo"xb\1234`, "LONG": "xo\"xb\\1234-and-more", "N": "5"}
	lookup := s.Lookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	for k := range env {
		lookup(k)
	}
	lookup("UNSET")
	got := s.String(`raw xo"xb\1234-and-more, raw xo"xb\1234, json "xo\"xb\\1234", n=5`)
	if want := `raw <redacted>, raw <redacted>, json "<redacted>", n=5`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	b, err := s.JSON(map[string]string{"k": `a xo"xb\1234 <b>`}).MarshalJSON()
	if err != nil || string(b) != `{"k":"a <redacted> <b>"}` {
		t.Errorf("JSON %s, %v", b, err)
	}
	var none *Secrets
	if none.String("xo") != "xo" {
		t.Error("nil Secrets changed text")
	}
}
