package testenv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// BigQueryServer implements the part of the BigQuery REST API v2 the
// receiver uses, as its reference documents it: datasets.insert,
// tables.insert (with a schema) and tabledata.insertAll, whose rows it
// checks against the table's schema (unknown columns, types, required
// columns, JSON columns as JSON text) and answers with insertErrors per
// row, honouring skipInvalidRows and dropping a repeated insertId. The
// known emulator needs ZetaSQL through cgo and does not build here.
type BigQueryServer struct {
	// URL is the endpoint the client takes (…/bigquery/v2/).
	URL string
	// Fail, when set, answers an insertAll request with this HTTP status
	// and error reason instead of taking it, while it returns a status.
	Fail func() (status int, reason string)
	// Answer, when set, is the body of a 200 answer to insertAll, given
	// instead of taking the rows (a server answering what does not add up).
	Answer string

	srv      *httptest.Server
	mu       sync.Mutex
	datasets map[string]string             // project.dataset → location
	tables   map[string]map[string]bqField // project.dataset.table → column → field
	rows     map[string][]map[string]any
	ids      map[string]bool
	requests int
}

type bqField struct {
	Name, Type, Mode string
}

// NewBigQueryServer starts one on loopback.
func NewBigQueryServer() *BigQueryServer {
	s := &BigQueryServer{datasets: map[string]string{}, tables: map[string]map[string]bqField{},
		rows: map[string][]map[string]any{}, ids: map[string]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/bigquery/v2/"
	return s
}

func (s *BigQueryServer) Close() { s.srv.Close() }

// Rows is what table ("project.dataset.table") holds, in insert order.
func (s *BigQueryServer) Rows(table string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.rows[table]...)
}

// InsertRequests counts insertAll requests.
func (s *BigQueryServer) InsertRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Columns is table's column → type, or nil when it does not exist.
func (s *BigQueryServer) Columns(table string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tables[table]
	if !ok {
		return nil
	}
	out := map[string]string{}
	for name, f := range t {
		out[name] = f.Type
	}
	return out
}

// CreateTable makes a table with columns (name → type) directly.
func (s *BigQueryServer) CreateTable(table string, columns map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := map[string]bqField{}
	for name, typ := range columns {
		t[name] = bqField{Name: name, Type: typ, Mode: "NULLABLE"}
	}
	s.tables[table] = t
}

func (s *BigQueryServer) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/bigquery/v2"), "/"), "/")
	if r.Method != http.MethodPost || len(parts) < 3 || parts[0] != "projects" || parts[2] != "datasets" {
		bqError(w, http.StatusNotFound, "notFound", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch len(parts) {
	case 3:
		s.createDataset(w, r, parts[1])
	case 5:
		s.createTable(w, r, parts[1]+"."+parts[3])
	case 7:
		s.insertAll(w, r, parts[1]+"."+parts[3]+"."+parts[5])
	default:
		bqError(w, http.StatusNotFound, "notFound", "no route for "+r.URL.Path)
	}
}

func (s *BigQueryServer) createDataset(w http.ResponseWriter, r *http.Request, project string) {
	var body struct {
		DatasetReference struct{ ProjectID, DatasetID string }
		Location         string
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.DatasetReference.DatasetID == "" {
		bqError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("dataset body: %v", err))
		return
	}
	name := project + "." + body.DatasetReference.DatasetID
	if _, ok := s.datasets[name]; ok {
		bqError(w, http.StatusConflict, "duplicate", "Already Exists: Dataset "+name)
		return
	}
	s.datasets[name] = body.Location
	json.NewEncoder(w).Encode(map[string]any{"kind": "bigquery#dataset", "id": name, "datasetReference": body.DatasetReference, "location": body.Location})
}

func (s *BigQueryServer) createTable(w http.ResponseWriter, r *http.Request, dataset string) {
	var body struct {
		TableReference struct{ ProjectID, DatasetID, TableID string }
		Schema         struct{ Fields []bqField }
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.TableReference.TableID == "" || len(body.Schema.Fields) == 0 {
		bqError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("table body without reference or schema (%v)", err))
		return
	}
	if _, ok := s.datasets[dataset]; !ok {
		bqError(w, http.StatusNotFound, "notFound", "Not found: Dataset "+dataset)
		return
	}
	name := dataset + "." + body.TableReference.TableID
	if _, ok := s.tables[name]; ok {
		bqError(w, http.StatusConflict, "duplicate", "Already Exists: Table "+name)
		return
	}
	t := map[string]bqField{}
	for _, f := range body.Schema.Fields {
		t[f.Name] = f
	}
	s.tables[name] = t
	json.NewEncoder(w).Encode(map[string]any{"kind": "bigquery#table", "id": name, "tableReference": body.TableReference, "schema": body.Schema})
}

func (s *BigQueryServer) insertAll(w http.ResponseWriter, r *http.Request, table string) {
	s.requests++
	if s.Answer != "" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(s.Answer))
		return
	}
	if s.Fail != nil {
		if status, reason := s.Fail(); status != 0 {
			bqError(w, status, reason, "refused by the test")
			return
		}
	}
	var req struct {
		SkipInvalidRows, IgnoreUnknownValues bool
		Rows                                 []struct {
			InsertID string `json:"insertId"`
			JSON     map[string]any
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		bqError(w, http.StatusBadRequest, "invalid", "request body: "+err.Error())
		return
	}
	schema, ok := s.tables[table]
	if !ok {
		bqError(w, http.StatusNotFound, "notFound", "Not found: Table "+table)
		return
	}
	type rowError struct {
		Index  int                 `json:"index"`
		Errors []map[string]string `json:"errors"`
	}
	var insertErrors []rowError
	for i, row := range req.Rows {
		if problem, column := checkRow(schema, row.JSON, req.IgnoreUnknownValues); problem != "" {
			insertErrors = append(insertErrors, rowError{i, []map[string]string{{"reason": "invalid", "location": column, "message": problem}}})
		}
	}
	bad := map[int]bool{}
	for _, e := range insertErrors {
		bad[e.Index] = true
	}
	for i, row := range req.Rows {
		switch {
		case bad[i]:
		case len(bad) > 0 && !req.SkipInvalidRows:
			insertErrors = append(insertErrors, rowError{i, []map[string]string{{"reason": "stopped"}}})
		case row.InsertID != "" && s.ids[table+"/"+row.InsertID]: // a repeat: dropped
		default:
			if row.InsertID != "" {
				s.ids[table+"/"+row.InsertID] = true
			}
			s.rows[table] = append(s.rows[table], row.JSON)
		}
	}
	json.NewEncoder(w).Encode(map[string]any{"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": insertErrors})
}

// checkRow is what is wrong with row under schema, and the column.
func checkRow(schema map[string]bqField, row map[string]any, ignoreUnknown bool) (problem, column string) {
	for name, f := range schema {
		if v, ok := row[name]; f.Mode == "REQUIRED" && (!ok || v == nil) {
			return "missing required field", name
		}
	}
	for name, v := range row {
		f, ok := schema[name]
		if !ok {
			if ignoreUnknown {
				continue
			}
			return "no such field: " + name, name
		}
		if v == nil {
			continue
		}
		if !validValue(f.Type, v) {
			return fmt.Sprintf("cannot convert value %v to %s", v, f.Type), name
		}
	}
	return "", ""
}

func validValue(typ string, v any) bool {
	switch typ {
	case "STRING":
		_, ok := v.(string)
		return ok
	case "INTEGER", "INT64":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	case "BOOLEAN", "BOOL":
		_, ok := v.(bool)
		return ok
	case "TIMESTAMP":
		t, ok := v.(string)
		if !ok {
			return false
		}
		_, err := time.Parse(time.RFC3339Nano, t)
		return err == nil
	case "JSON":
		t, ok := v.(string)
		return ok && json.Valid([]byte(t))
	}
	return true
}

func bqError(w http.ResponseWriter, status int, reason, message string) {
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": status, "message": message, "errors": []map[string]string{{"reason": reason, "message": message}},
	}})
}
