package sinks

import (
	"context"
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

// Describe gives the status page a failure's class, HTTP status and host
// (never the path, query or user info of the URL), from every kind of
// answer Send classifies.
func TestDescribeSendFailures(t *testing.T) {
	status := http.StatusServiceUnavailable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if status == http.StatusFound {
			w.Header().Set("Location", "https://elsewhere.example/x")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "body with a token tok-123")
	}))
	defer srv.Close()
	endpoint := strings.Replace(srv.URL, "http://", "http://user:pw@", 1) + "/hook/tok-123?key=tok-123"
	for _, c := range []struct {
		status int
		class  Class
	}{{503, ClassHTTP5xx}, {429, ClassRateLimited}, {400, ClassHTTP4xx}, {302, ClassRedirect}} {
		status = c.status
		_, err := Send(context.Background(), NewHTTPClient(nil), http.MethodPost, endpoint, "text/plain", nil, nil)
		f := Describe(err)
		if f.Class != c.class || f.Status != c.status || f.Host != srv.URL {
			t.Errorf("HTTP %d: %+v, want %s, %d, %s", c.status, f, c.class, c.status, srv.URL)
		}
	}
	srv.Close()
	_, err := Send(context.Background(), NewHTTPClient(nil), http.MethodPost, endpoint, "text/plain", nil, nil)
	if f := Describe(err); f.Class != ClassNetwork || f.Status != 0 || f.Host != srv.URL {
		t.Errorf("no answer: %+v", f)
	}
	if f := Describe(errors.New("plain")); f.Class != ClassOther || f.Host != "" {
		t.Errorf("an unclassified error: %+v", f)
	}
}
