package sql

import (
	"fmt"
	"strings"
)

// The two row layouts (Config.Mode).
const (
	// ModeUpsert keeps one row per Event object, keyed by its UID: a
	// count update changes count, last_seen and message in place.
	ModeUpsert = "upsert"
	// ModeAppend keeps kube-eventer's one row per occurrence (its
	// kube_event columns), unique on (event_id, count), so a re-send adds
	// nothing.
	ModeAppend = "append"
)

// columns are each layout's columns, in the order rows gives values.
var columns = map[string][]string{
	ModeUpsert: {"uid", "cluster", "namespace", "name", "kind", "object_namespace", "object_name", "object_uid",
		"workload", "reason", "type", "message", "component", "host", "count", "first_seen", "last_seen", "labels", "annotations"},
	ModeAppend: {"namespace", "kind", "name", "type", "reason", "message", "event_id",
		"first_occurrence_time", "last_occurrence_time", "count"},
}

// createTable is the table eventide creates when it is missing: the
// schema README documents.
func createTable(driver, mode, table string) []string {
	name := quote(driver, table)
	idx := strings.ReplaceAll(table, ".", "_")
	switch driver + "/" + mode {
	case "mysql/" + ModeUpsert:
		return []string{`CREATE TABLE IF NOT EXISTS ` + name + ` (
  uid VARCHAR(64) NOT NULL PRIMARY KEY,
  cluster VARCHAR(253) NOT NULL DEFAULT '',
  namespace VARCHAR(253) NOT NULL DEFAULT '',
  name VARCHAR(253) NOT NULL DEFAULT '',
  kind VARCHAR(128) NOT NULL DEFAULT '',
  object_namespace VARCHAR(253) NOT NULL DEFAULT '',
  object_name VARCHAR(253) NOT NULL DEFAULT '',
  object_uid VARCHAR(64) NOT NULL DEFAULT '',
  workload VARCHAR(400) NOT NULL DEFAULT '',
  reason VARCHAR(128) NOT NULL DEFAULT '',
  type VARCHAR(32) NOT NULL DEFAULT '',
  message TEXT NOT NULL,
  component VARCHAR(253) NOT NULL DEFAULT '',
  host VARCHAR(253) NOT NULL DEFAULT '',
  count INT NOT NULL,
  first_seen DATETIME(6) NOT NULL,
  last_seen DATETIME(6) NOT NULL,
  labels JSON,
  annotations JSON,
  KEY ` + idx + `_last_seen (last_seen),
  KEY ` + idx + `_namespace_reason (namespace, reason)
) CHARACTER SET utf8mb4`}
	case "postgres/" + ModeUpsert:
		return []string{`CREATE TABLE IF NOT EXISTS ` + name + ` (
  uid TEXT NOT NULL PRIMARY KEY,
  cluster TEXT NOT NULL DEFAULT '',
  namespace TEXT NOT NULL DEFAULT '',
  name TEXT NOT NULL DEFAULT '',
  kind TEXT NOT NULL DEFAULT '',
  object_namespace TEXT NOT NULL DEFAULT '',
  object_name TEXT NOT NULL DEFAULT '',
  object_uid TEXT NOT NULL DEFAULT '',
  workload TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  type TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL,
  component TEXT NOT NULL DEFAULT '',
  host TEXT NOT NULL DEFAULT '',
  count INTEGER NOT NULL,
  first_seen TIMESTAMPTZ NOT NULL,
  last_seen TIMESTAMPTZ NOT NULL,
  labels JSONB,
  annotations JSONB
)`,
			`CREATE INDEX IF NOT EXISTS ` + idx + `_last_seen ON ` + name + ` (last_seen)`,
			`CREATE INDEX IF NOT EXISTS ` + idx + `_namespace_reason ON ` + name + ` (namespace, reason)`}
	case "mysql/" + ModeAppend:
		return []string{`CREATE TABLE IF NOT EXISTS ` + name + ` (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  namespace VARCHAR(255) DEFAULT '',
  kind VARCHAR(255) DEFAULT '',
  name VARCHAR(255) DEFAULT '',
  type VARCHAR(255) DEFAULT '',
  reason VARCHAR(255) DEFAULT '',
  message TEXT,
  event_id VARCHAR(255) DEFAULT '',
  first_occurrence_time VARCHAR(255) DEFAULT '',
  last_occurrence_time VARCHAR(255) DEFAULT '',
  count INT NULL,
  update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE KEY ` + idx + `_occurrence (event_id, count)
) CHARACTER SET utf8mb4`}
	case "postgres/" + ModeAppend:
		return []string{`CREATE TABLE IF NOT EXISTS ` + name + ` (
  id BIGSERIAL PRIMARY KEY,
  namespace TEXT DEFAULT '',
  kind TEXT DEFAULT '',
  name TEXT DEFAULT '',
  type TEXT DEFAULT '',
  reason TEXT DEFAULT '',
  message TEXT,
  event_id TEXT DEFAULT '',
  first_occurrence_time TEXT DEFAULT '',
  last_occurrence_time TEXT DEFAULT '',
  count INTEGER NULL,
  update_time TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (event_id, count)
)`}
	}
	panic("unknown driver or mode " + driver + "/" + mode)
}

// insert is the statement that writes one row: an upsert that never moves
// count or last_seen backwards (a late, older update changes nothing), or
// an insert that skips an occurrence already there.
func insert(driver, mode, table string) string {
	cols := columns[mode]
	marks := make([]string, len(cols))
	for i := range cols {
		marks[i] = "?"
		if driver == "postgres" {
			marks[i] = fmt.Sprintf("$%d", i+1)
		}
	}
	into := quote(driver, table)
	if driver == "postgres" {
		into += " AS t" // the upsert's name for the row already there
	}
	head := "INSERT INTO " + into + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(marks, ", ") + ")"
	switch driver + "/" + mode {
	case "mysql/" + ModeUpsert:
		// MySQL assigns left to right: message and last_seen read count
		// before it changes.
		return head + ` ON DUPLICATE KEY UPDATE
  message = IF(VALUES(count) > count, VALUES(message), message),
  last_seen = GREATEST(last_seen, VALUES(last_seen)),
  count = GREATEST(count, VALUES(count))`
	case "postgres/" + ModeUpsert:
		return head + ` ON CONFLICT (uid) DO UPDATE SET
  message = CASE WHEN EXCLUDED.count > t.count THEN EXCLUDED.message ELSE t.message END,
  last_seen = GREATEST(t.last_seen, EXCLUDED.last_seen),
  count = GREATEST(t.count, EXCLUDED.count)`
	case "mysql/" + ModeAppend:
		return strings.Replace(head, "INSERT INTO", "INSERT IGNORE INTO", 1)
	case "postgres/" + ModeAppend:
		return head + " ON CONFLICT DO NOTHING"
	}
	panic("unknown driver or mode " + driver + "/" + mode)
}

// quote quotes a checked table name (tableName), schema-qualified or not.
func quote(driver, table string) string {
	q := `"`
	if driver == "mysql" {
		q = "`"
	}
	parts := strings.Split(table, ".")
	for i, p := range parts {
		parts[i] = q + p + q
	}
	return strings.Join(parts, ".")
}
