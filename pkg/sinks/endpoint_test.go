package sinks

import (
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestCheckEndpoint(t *testing.T) {
	for _, c := range []struct {
		raw      string
		required bool
		schemes  Schemes
		want     string // "" accepted
	}{
		{"https://hooks.example.com/x", true, HTTPSOnly, ""},
		{"http://127.0.0.1:8080/x", true, HTTPSOnly, ""},
		{"http://localhost/x", true, HTTPSOnly, ""},
		{"http://hooks.example.com/x", true, HTTPOrHTTPS, ""},
		{"", false, HTTPSOnly, ""},
		{"", true, HTTPOrHTTPS, "p: required"},
		{"http://hooks.example.com/x", true, HTTPSOnly, "p: must be https://"},
		{"ftp://hooks.example.com/x", true, HTTPOrHTTPS, "p: not an http(s) URL"},
		{"hooks.example.com/x", true, HTTPOrHTTPS, "p: not an http(s) URL"},
		{"https://", true, HTTPOrHTTPS, "p: not an http(s) URL"},
		{"https://user:s3cret@%zz", true, HTTPOrHTTPS, "p: not an http(s) URL"},
	} {
		e, err := CheckEndpoint("p", c.raw, c.required, c.schemes)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.raw, err)
		case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)):
			t.Errorf("%q: error %v, want %q", c.raw, err, c.want)
		case err != nil && strings.Contains(err.Error(), "s3cret"):
			t.Errorf("%q: the error quotes the URL: %v", c.raw, err)
		case c.want == "" && c.raw != "" && e.URL.String() != c.raw:
			t.Errorf("%q: parsed as %s", c.raw, e.URL)
		}
	}
}

// Warn names what is exposed, never the URL's path or credentials.
func TestEndpointWarn(t *testing.T) {
	for _, c := range []struct {
		raw         string
		insecure    bool
		credentials bool
		want        []string // substrings of the log; none: no log
	}{
		{"https://l.example.com/x", false, true, nil},
		{"http://127.0.0.1/x", false, true, nil},
		{"http://l.example.com/x", false, false, nil},
		{"http://l.example.com/x", false, true, []string{"credentials sent over plain http"}},
		{"http://u:s3cret@l.example.com/x", false, false, []string{"credentials sent over plain http"}},
		{"https://l.example.com/x", true, false, []string{"tls.insecureSkipVerify", `"endpoint":"https://l.example.com"`}},
	} {
		var logs strings.Builder
		e, err := CheckEndpoint("receivers[0].loki.url", c.raw, true, HTTPOrHTTPS)
		if err != nil {
			t.Fatal(err)
		}
		e.Warn(zerolog.New(&logs), TLSConfig{InsecureSkipVerify: c.insecure}, c.credentials)
		if len(c.want) == 0 && logs.Len() > 0 {
			t.Errorf("%s: unexpected warning %s", c.raw, logs.String())
		}
		for _, w := range c.want {
			if !strings.Contains(logs.String(), w) {
				t.Errorf("%s: warning %q lacks %q", c.raw, logs.String(), w)
			}
		}
		if strings.Contains(logs.String(), "s3cret") || strings.Contains(logs.String(), "/x") {
			t.Errorf("%s: the warning shows more than scheme and host: %s", c.raw, logs.String())
		}
	}
	var nilEndpoint *Endpoint
	nilEndpoint.Warn(zerolog.Nop(), TLSConfig{InsecureSkipVerify: true}, true) // no endpoint set: nothing to say
}
