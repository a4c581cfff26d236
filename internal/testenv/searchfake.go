package testenv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// SearchServer stands in for Elasticsearch and OpenSearch, which do not
// build here: GET / (with the product header the Elasticsearch client
// checks before any request), POST /_bulk with a result per item, and GET
// /{index}/_doc/{id}. It checks the wire format the real clients send.
type SearchServer struct {
	URL string
	// Reject, when set, gives an item's status from its source: 0 accepts.
	Reject func(source []byte) int
	// BulkStatus and BulkAnswer, when set, replace every _bulk answer (a
	// server answering what does not add up).
	BulkStatus int
	BulkAnswer string

	srv   *httptest.Server
	mu    sync.Mutex
	docs  map[string]json.RawMessage // "index/id" → source
	order []string
	auth  []string // Authorization of each _bulk request
	bulks int
	next  int
}

// NewSearchServer starts one on loopback.
func NewSearchServer() *SearchServer {
	s := &SearchServer{docs: map[string]json.RawMessage{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

func (s *SearchServer) Close() { s.srv.Close() }

func (s *SearchServer) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/":
		fmt.Fprint(w, `{"name":"fake","cluster_name":"eventide-test","version":{"number":"8.19.0","build_flavor":"default","distribution":"opensearch-or-elasticsearch"},"tagline":"You Know, for Search"}`)
	case r.Method == http.MethodPost && r.URL.Path == "/_bulk" && s.BulkStatus != 0:
		w.WriteHeader(s.BulkStatus)
		fmt.Fprint(w, s.BulkAnswer)
	case r.Method == http.MethodPost && r.URL.Path == "/_bulk":
		s.bulk(w, r)
	case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/_doc/"):
		index, id, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/_doc/")
		s.mu.Lock()
		src, ok := s.docs[index+"/"+id]
		s.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"_index":%q,"_id":%q,"found":false}`, index, id)
			return
		}
		fmt.Fprintf(w, `{"_index":%q,"_id":%q,"found":true,"_source":%s}`, index, id, src)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":"no route for %s %s"}`, r.Method, r.URL.Path)
	}
}

func (s *SearchServer) bulk(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.Contains(ct, "ndjson") && !strings.Contains(ct, "json") {
		http.Error(w, `{"error":"content type "`+ct+`}`, http.StatusNotAcceptable)
		return
	}
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var items []map[string]any
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bulks++
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(line, &action); err != nil || len(action) != 1 || !sc.Scan() {
			http.Error(w, `{"error":"malformed action line"}`, http.StatusBadRequest)
			return
		}
		source := append([]byte(nil), sc.Bytes()...)
		for op, meta := range action {
			if meta.ID == "" {
				s.next++
				meta.ID = fmt.Sprintf("auto-%d", s.next)
			}
			key := meta.Index + "/" + meta.ID
			result := map[string]any{"_index": meta.Index, "_id": meta.ID}
			status := 0
			if s.Reject != nil {
				status = s.Reject(source)
			}
			_, exists := s.docs[key]
			switch {
			case status != 0:
				result["error"] = map[string]string{"type": "mapper_parsing_exception", "reason": "refused by the test"}
			case op == "create" && exists:
				status = http.StatusConflict
				result["error"] = map[string]string{"type": "version_conflict_engine_exception", "reason": "document already exists"}
			case op != "index" && op != "create":
				status = http.StatusBadRequest
				result["error"] = map[string]string{"type": "illegal_argument_exception", "reason": "op " + op}
			default:
				status = http.StatusCreated
				if exists {
					status = http.StatusOK
				} else {
					s.order = append(s.order, key)
				}
				s.docs[key] = source
			}
			result["status"] = status
			items = append(items, map[string]any{op: result})
		}
	}
	errorsSeen := false
	for _, it := range items {
		for _, res := range it {
			if st := res.(map[string]any)["status"].(int); st > 299 {
				errorsSeen = true
			}
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"took": 1, "errors": errorsSeen, "items": items})
}

// Docs are the stored documents, "index/id" → source, in first-arrival
// order.
func (s *SearchServer) Docs() (keys []string, docs map[string]json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]json.RawMessage, len(s.docs))
	for k, v := range s.docs {
		out[k] = v
	}
	return append([]string(nil), s.order...), out
}

// Bulks is the number of _bulk requests and their Authorization headers.
func (s *SearchServer) Bulks() (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bulks, append([]string(nil), s.auth...)
}
