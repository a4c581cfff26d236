package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

// Events from the cluster, one of them repeated, reach the kube-eventer
// family's data sinks, read back from what each stored: InfluxDB 1.6
// (points by query, the repeat one more point counting 1), MariaDB and
// PostgreSQL (one row per Event object, its count updated in place) and
// Log Service (the fake's decoded logs).
func TestDataSinks(t *testing.T) {
	testenv.Outside(t, "influxd, MariaDB and PostgreSQL")
	ns := "e2e-datasinks"
	w := setupNamespace(t, ns)
	ctx := context.Background()
	influx, err := testenv.StartInfluxDB(ctx, t.TempDir(), "k8s")
	if err != nil {
		t.Fatal(err)
	}
	defer influx.Stop()
	maria, err := testenv.StartMariaDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer maria.Stop()
	pg, err := testenv.StartPostgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	sls, err := testenv.NewSLSFake("k8s-log", "k8s-event", "sls-secret")
	if err != nil {
		t.Fatal(err)
	}
	defer sls.Close()
	startEventide(t, fmt.Sprintf(`namespace: %s
route:
  match:
    - receiver: influx
    - receiver: mariadb
    - receiver: postgres
    - receiver: sls
receivers:
  - name: influx
    influxdb: {url: '%s', flushInterval: 50ms}
  - name: mariadb
    sql: {driver: mysql, dsn: '%s', flushInterval: 50ms}
  - name: postgres
    sql: {driver: postgres, dsn: '%s', flushInterval: 50ms}
  - name: sls
    sls: {endpoint: 'http://%s', project: k8s-log, logstore: k8s-event, accessKeyID: AKID, accessKeySecret: sls-secret, flushInterval: 50ms}
`, ns, influx.URL, maria.DSN, pg.DSN, sls.Host()))
	const n = 3
	var evs []string
	for i := 0; i < n; i++ {
		ev := createEvent(t, kubeenv.PodEvent(w.Pods[i], fmt.Sprintf("data-%d", i), "Warning", "BackOff", fmt.Sprintf("Back-off %d", i)))
		evs = append(evs, string(ev.UID))
		if i == 0 {
			// The first is repeated once its row is there: an update in
			// place, not a second row.
			waitRows(t, maria, 1)
			if _, err := cluster.Repeat(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	// SQL: one row per Event object, the repeated one at count 2.
	for _, db := range []*testenv.SQLServer{maria, pg} {
		waitRows(t, db, n)
		conn, _ := db.Open()
		var count int
		q := "SELECT count FROM kube_events WHERE uid = ?"
		if db.Driver == "postgres" {
			q = strings.Replace(q, "?", "$1", 1)
		}
		if err := testenv.PollUntil(waitCtx(t), 20*time.Millisecond, func() bool {
			return conn.QueryRow(q, evs[0]).Scan(&count) == nil && count == 2
		}); err != nil {
			t.Errorf("%s: the repeated event's row has count %d, want 2", db.Driver, count)
		}
		conn.Close()
	}
	// InfluxDB: a point per occurrence update, count an integer summing
	// to the occurrences (1 + 1 for the repeat, 1 each for the others).
	var rows []map[string]any
	if err := testenv.PollUntil(waitCtx(t), 50*time.Millisecond, func() bool {
		rows, _ = influx.Query("k8s", fmt.Sprintf(`SELECT * FROM kubernetes_events WHERE namespace = '%s'`, ns))
		return len(rows) >= n+1
	}); err != nil {
		t.Fatalf("influxdb: %d points, want %d: %v", len(rows), n+1, rows)
	}
	sum, _ := influx.Query("k8s", fmt.Sprintf(`SELECT sum(count) FROM kubernetes_events WHERE namespace = '%s'`, ns))
	if len(rows) != n+1 || len(sum) != 1 || fmt.Sprint(sum[0]["sum"]) != fmt.Sprint(n+1) {
		t.Errorf("influxdb: %d points, sum(count) %v", len(rows), sum)
	}
	// Log Service: every update a log, signed (the fake refuses others).
	var logs []testenv.SLSLog
	if err := testenv.PollUntil(waitCtx(t), 20*time.Millisecond, func() bool {
		logs, _, _ = sls.Logs()
		return len(logs) >= n+1
	}); err != nil || len(sls.Bad()) > 0 {
		t.Fatalf("sls: %d logs, want %d (%v)", len(logs), n+1, sls.Bad())
	}
	for _, l := range logs {
		if l.Get("namespace") != ns || l.Get("reason") != "BackOff" || !strings.HasPrefix(l.Get("message"), "Back-off ") {
			t.Errorf("sls log %s", l.Line())
		}
	}
}

// waitRows polls until db's kube_events table holds n rows.
func waitRows(t *testing.T, db *testenv.SQLServer, n int) {
	t.Helper()
	conn, err := db.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var got int
	if err := testenv.PollUntil(waitCtx(t), 20*time.Millisecond, func() bool {
		return conn.QueryRow("SELECT COUNT(*) FROM kube_events").Scan(&got) == nil && got >= n
	}); err != nil || got != n {
		t.Fatalf("%s: %d rows, want %d", db.Driver, got, n)
	}
}
