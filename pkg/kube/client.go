// Package kube watches Kubernetes Events, enriches them from caches of the
// objects they are about, and talks to the API server for the rest of eventide
// (client configuration, API request accounting, leader election, checkpoint
// storage). The event type itself is in the leaf package kube/event.
package kube

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ClientOptions says how to reach the API server.
type ClientOptions struct {
	// Kubeconfig is a kubeconfig path; empty means in-cluster, then the
	// default loading rules ($KUBECONFIG, ~/.kube/config).
	Kubeconfig string
	QPS        float32
	Burst      int
	UserAgent  string
	// OnRequest, when set, is called once per API request with its verb
	// (GET, LIST, WATCH, …) and HTTP status code (0 for a transport error).
	OnRequest func(verb string, code int)
}

// RESTConfig builds a client configuration: the kubeconfig when one is
// given, in-cluster config otherwise, then the default loading rules. Event
// lists and watches are asked for in protobuf.
func RESTConfig(o ClientOptions) (*rest.Config, error) {
	var (
		cfg *rest.Config
		err error
	)
	switch {
	case o.Kubeconfig != "":
		cfg, err = clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	default:
		cfg, err = rest.InClusterConfig()
		if err == rest.ErrNotInCluster {
			rules := clientcmd.NewDefaultClientConfigLoadingRules()
			cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client config: %w", err)
	}
	cfg = rest.CopyConfig(cfg)
	if o.QPS > 0 {
		cfg.QPS = o.QPS
	}
	if o.Burst > 0 {
		cfg.Burst = o.Burst
	}
	if o.UserAgent != "" {
		cfg.UserAgent = o.UserAgent
	}
	if o.OnRequest != nil {
		onRequest := o.OnRequest
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
			return &countingTransport{next: rt, onRequest: onRequest}
		})
	}
	return cfg, nil
}

// ProtobufConfig returns a copy of cfg that asks for protobuf, which built-in
// types (Events among them) support and which is cheaper to decode than JSON.
func ProtobufConfig(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.ContentType = "application/vnd.kubernetes.protobuf"
	c.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	return c
}

type countingTransport struct {
	next      http.RoundTripper
	onRequest func(verb string, code int)
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	code := 0
	if resp != nil {
		code = resp.StatusCode
	}
	t.onRequest(requestVerb(req), code)
	return resp, err
}

// requestVerb maps an HTTP request to the API verb an audit log would show.
func requestVerb(req *http.Request) string {
	q := req.URL.Query()
	switch req.Method {
	case http.MethodGet:
		if w, _ := strconv.ParseBool(q.Get("watch")); w {
			return "WATCH"
		}
		// A collection path has an even number of segments after the group
		// version (…/namespaces/ns/pods) or is a discovery path.
		if strings.HasPrefix(req.URL.Path, "/api") && isCollection(req.URL.Path) {
			return "LIST"
		}
		return "GET"
	default:
		return req.Method
	}
}

func isCollection(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	// /api/v1/<res>, /api/v1/namespaces/<ns>/<res>, /apis/<g>/<v>/<res>, …
	var rest []string
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		rest = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		rest = parts[3:]
	default:
		return false
	}
	if len(rest) == 0 {
		return false
	}
	if rest[0] == "namespaces" && len(rest) >= 3 {
		rest = rest[2:]
	}
	return len(rest) == 1
}
