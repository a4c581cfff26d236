package kube

import (
	"net/http/httptest"
	"testing"
)

func TestRequestVerb(t *testing.T) {
	for url, want := range map[string]string{
		"/api/v1/namespaces/a/events?watch=true":          "WATCH",
		"/api/v1/namespaces/a/events?limit=500":           "LIST",
		"/api/v1/pods":                                    "LIST",
		"/api/v1/namespaces/a/pods/p":                     "GET",
		"/apis/apps/v1/namespaces/a/replicasets":          "LIST",
		"/apis/apps/v1/namespaces/a/replicasets/rs":       "GET",
		"/apis/apps/v1/deployments?allowWatchBookmarks=1": "LIST",
		"/apis": "GET",
	} {
		if got := requestVerb(httptest.NewRequest("GET", url, nil)); got != want {
			t.Errorf("%s: %s, want %s", url, got, want)
		}
	}
}
