package sinks

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A receiver's answer is read up to MaxResponseBytes, however much the
// server sends.
func TestHTTPClientBoundsResponseBodies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := []byte(strings.Repeat("x", 64<<10))
		for i := 0; i < 1024; i++ { // 64 MB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	resp, err := NewHTTPClient(nil).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if !errors.Is(err, ErrResponseTooLarge) || n != MaxResponseBytes {
		t.Errorf("read %d bytes, %v: want %d then ErrResponseTooLarge", n, err, MaxResponseBytes)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.slack.com/services/T0/B0/secret": "https://hooks.slack.com",
		"https://user:pw@es.example:9200/x?api_key=k":   "https://es.example:9200",
		"not a url": "<url>",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

// A 3xx that reaches HTTPStatusError (clients that follow no redirects:
// Elasticsearch, BigQuery) is a redirect, not an http_4xx.
func TestHTTPStatusErrorRedirect(t *testing.T) {
	for _, code := range []int{301, 307, 308} {
		if class, retryable, _ := Classify(HTTPStatusError(code, "", nil)); class != "redirect" || retryable {
			t.Errorf("%d: %s, retryable=%v", code, class, retryable)
		}
	}
}
