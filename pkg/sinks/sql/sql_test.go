package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

var (
	started     []*testenv.SQLServer
	startErr    error
	startedOnce sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, srv := range started {
		srv.Stop()
	}
	os.Exit(code)
}

// servers runs f on MariaDB and on PostgreSQL, started once for the
// package's tests (each test uses tables of its own).
func servers(t *testing.T, f func(t *testing.T, srv *testenv.SQLServer, db *dbsql.DB)) {
	testenv.Outside(t, "MariaDB and PostgreSQL")
	startedOnce.Do(func() {
		for _, start := range []func(context.Context) (*testenv.SQLServer, error){testenv.StartMariaDB, testenv.StartPostgres} {
			srv, err := start(context.Background())
			if err != nil {
				startErr = err
				return
			}
			started = append(started, srv)
		}
	})
	if startErr != nil {
		t.Fatal(startErr)
	}
	for _, srv := range started {
		t.Run(srv.Driver, func(t *testing.T) {
			db, err := srv.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			f(t, srv, db)
		})
	}
}

func build(t *testing.T, srv *testenv.SQLServer, extra string) sinks.BatchSink {
	return sinktest.MustBuild(t, &Config{}, fmt.Sprintf("sql: {driver: %s, dsn: '%s'%s}", srv.Driver, srv.DSN, extra)).(sinks.BatchSink)
}

func send(t *testing.T, s sinks.BatchSink, evs ...*event.EnhancedEvent) []error {
	t.Helper()
	return s.SendBatch(context.Background(), evs)
}

func mustSend(t *testing.T, s sinks.BatchSink, evs ...*event.EnhancedEvent) {
	t.Helper()
	for i, err := range send(t, s, evs...) {
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
}

// update is ev's Event object at count n, its message and time moved on.
func update(ev *event.EnhancedEvent, n int32) *event.EnhancedEvent {
	u := *ev
	u.Count = n
	u.Message = fmt.Sprintf("Back-off restarting failed container (%d)", n)
	u.LastTimestamp.Time = ev.LastTimestamp.Add(time.Duration(n) * time.Minute)
	return &u
}

// One row per Event object: a count update changes count, last_seen and
// message in place; an older update arriving late moves nothing back; a
// new sink (a restart) sending it all again adds no row.
func TestUpsert(t *testing.T) {
	servers(t, func(t *testing.T, srv *testenv.SQLServer, db *dbsql.DB) {
		ev, other := testenv.SampleEvents(2)[0], testenv.SampleEvents(2)[1]
		s := build(t, srv, ", table: upserted")
		mustSend(t, s, update(ev, 1), other)
		mustSend(t, s, update(ev, 3))
		mustSend(t, s, update(ev, 2)) // late
		mustSend(t, build(t, srv, ", table: upserted"), update(ev, 1), update(ev, 3), other)
		var rows, count int
		var message, labels, workload string
		var last time.Time
		if err := db.QueryRow("SELECT COUNT(*) FROM upserted").Scan(&rows); err != nil || rows != 2 {
			t.Fatalf("%d rows (%v), want 2", rows, err)
		}
		q := "SELECT count, message, last_seen, labels, workload FROM upserted WHERE uid = ?"
		if srv.Driver == "postgres" {
			q = strings.Replace(q, "?", "$1", 1)
		}
		if err := db.QueryRow(q, string(ev.UID)).Scan(&count, &message, &last, &labels, &workload); err != nil {
			t.Fatal(err)
		}
		if count != 3 || !strings.HasSuffix(message, "(3)") || !last.Equal(update(ev, 3).LastTimestamp.Time) ||
			!strings.Contains(labels, `"owner": "payments"`) && !strings.Contains(labels, `"owner":"payments"`) || workload != "Deployment/web" {
			t.Errorf("row: count %d, message %q, last_seen %v, labels %s, workload %s", count, message, last, labels, workload)
		}
	})
}

// kube-eventer's one row per occurrence, in its columns: a re-send adds
// nothing, each count update a row.
func TestAppend(t *testing.T) {
	servers(t, func(t *testing.T, srv *testenv.SQLServer, db *dbsql.DB) {
		ev := testenv.SampleEvent()
		s := build(t, srv, ", table: kube_event, mode: append")
		mustSend(t, s, update(ev, 1), update(ev, 2))
		mustSend(t, build(t, srv, ", table: kube_event, mode: append"), update(ev, 2), update(ev, 3))
		rows, err := db.Query("SELECT namespace, kind, name, reason, event_id, last_occurrence_time, count FROM kube_event ORDER BY count")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var ns, kind, name, reason, id, last string
			var count int
			if err := rows.Scan(&ns, &kind, &name, &reason, &id, &last, &count); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s %s %s %s %s %s %d", ns, kind, name, reason, id, last, count))
		}
		want := []string{
			"shop Pod web-1 BackOff ev-uid 2026-11-21 10:01:00 +0000 UTC 1",
			"shop Pod web-1 BackOff ev-uid 2026-11-21 10:02:00 +0000 UTC 2",
			"shop Pod web-1 BackOff ev-uid 2026-11-21 10:03:00 +0000 UTC 3",
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("rows:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// A row the database refuses is dead-lettered alone; the batch's other
// rows are written. kube-eventer's own table, without count, is a clear
// permanent error naming the ALTER TABLE to run.
func TestRefusals(t *testing.T) {
	servers(t, func(t *testing.T, srv *testenv.SQLServer, db *dbsql.DB) {
		evs := testenv.SampleEvents(3)
		evs[1].Message = strings.Repeat("x", 70000) // over MariaDB's TEXT
		if srv.Driver == "postgres" {
			evs[1].Message = "nul \x00 byte" // PostgreSQL's text takes no NUL
		}
		errs := send(t, build(t, srv, ""), evs...)
		if _, retryable, _ := sinks.Classify(errs[1]); errs[0] != nil || errs[2] != nil || errs[1] == nil || retryable {
			t.Errorf("errors %v", errs)
		}
		var rows int
		if err := db.QueryRow("SELECT COUNT(*) FROM kube_events").Scan(&rows); err != nil || rows != 2 {
			t.Errorf("%d rows (%v), want 2", rows, err)
		}
		if _, err := db.Exec("CREATE TABLE old_kube_event (id INTEGER, namespace TEXT, event_id TEXT)"); err != nil {
			t.Fatal(err)
		}
		err := send(t, build(t, srv, ", table: old_kube_event, mode: append, createTable: false"), testenv.SampleEvent())[0]
		if _, retryable, _ := sinks.Classify(err); err == nil || retryable || !strings.Contains(err.Error(), "ALTER TABLE old_kube_event ADD COLUMN count") {
			t.Errorf("kube-eventer's table: %v", err)
		}
	})
}

func TestBuildErrors(t *testing.T) {
	for src, want := range map[string]string{
		`sql: {driver: oracle, dsn: x}`: `driver: "oracle"`,
		`sql: {driver: mysql}`:          "dsn: required",
		`sql: {driver: mysql, dsn: 'root:pw@tcp(db:3306)/e', table: 'x; DROP TABLE y'}`: "is not a table name",
		`sql: {driver: postgres, dsn: 'postgres://db/e', mode: merge}`:                  `mode: "merge"`,
		`sql: {driver: mysql, dsn: 'not a dsn with secret'}`:                            "not a MySQL DSN",
	} {
		_, err := sinktest.Build(t, &Config{}, src)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: %v, want %s", src, err, want)
		}
	}
}

func TestRedactDSN(t *testing.T) {
	for _, in := range []string{"dial postgres://eventide:hunter2@db:5432/e failed", "root:hunter2@tcp(db:3306)/e: refused"} {
		if out := redactDSN(fmt.Errorf("%s", in)).Error(); strings.Contains(out, "hunter2") || !strings.Contains(out, "<redacted>@") {
			t.Errorf("%s → %s", in, out)
		}
	}
}

// BenchmarkSendBatch: batches of 500 new rows (distinct UIDs) in one
// transaction each, upsert mode, to MariaDB and PostgreSQL (other
// processes: their CPU is not in the figure).
func BenchmarkSendBatch(b *testing.B) {
	testenv.Outside(b, "MariaDB and PostgreSQL")
	for _, start := range []func(context.Context) (*testenv.SQLServer, error){testenv.StartMariaDB, testenv.StartPostgres} {
		srv, err := start(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.Run(srv.Driver, func(b *testing.B) {
			s := sinktest.MustBuild(b, &Config{}, fmt.Sprintf("sql: {driver: %s, dsn: '%s', table: bench}", srv.Driver, srv.DSN))
			sinktest.BenchSendBatch(b, s, func(i int) []*event.EnhancedEvent {
				evs := testenv.SampleEvents(500)
				for j, ev := range evs {
					ev.UID = types.UID(fmt.Sprintf("b%d-%d", i, j))
				}
				return evs
			})
		})
		srv.Stop()
	}
}
