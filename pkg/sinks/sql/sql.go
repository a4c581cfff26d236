// Package sql writes events to MySQL/MariaDB or PostgreSQL: by default one
// row per Event object, updated in place as its count grows; or
// kube-eventer's one row per occurrence. One transaction per batch; a row
// the database refuses is dead-lettered alone.
package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// Config writes events to a table.
type Config struct {
	Driver string       `yaml:"driver"` // mysql (MySQL, MariaDB) or postgres
	DSN    sinks.Secret `yaml:"dsn"`    // user:pw@tcp(host:3306)/db, or postgres://user:pw@host/db
	Table  string       `yaml:"table"`  // default kube_events
	Mode   string       `yaml:"mode"`   // upsert (default) or append
	// CreateTable creates the table when it is missing (default true).
	CreateTable    *bool `yaml:"createTable"`
	sinks.Batching `yaml:",inline"`
}

// DefaultTable is the table when none is set.
const DefaultTable = "kube_events"

// tableName is a table, optionally schema-qualified: it goes into SQL, so
// nothing else is accepted.
var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$`)

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	s := &sink{driver: c.Driver, table: c.Table, mode: c.Mode, create: c.CreateTable == nil || *c.CreateTable}
	if s.table == "" {
		s.table = DefaultTable
	}
	if s.mode == "" {
		s.mode = ModeUpsert
	}
	driverName := map[string]string{"mysql": "mysql", "postgres": "pgx"}[c.Driver]
	if driverName == "" {
		errs = append(errs, fmt.Errorf("%s.driver: %q: use mysql (MySQL, MariaDB) or postgres", path, c.Driver))
	}
	if c.DSN == "" {
		errs = append(errs, fmt.Errorf("%s.dsn: required", path))
	}
	if !tableName.MatchString(s.table) {
		errs = append(errs, fmt.Errorf("%s.table: %q is not a table name (letters, digits and _, optionally schema.table)", path, c.Table))
	}
	if s.mode != ModeUpsert && s.mode != ModeAppend {
		errs = append(errs, fmt.Errorf("%s.mode: %q: use upsert or append", path, c.Mode))
	}
	var err error
	s.Batching, err = c.Batching.CheckWith(path, sinks.BatchDefaults{Size: 500, Flush: time.Second, Max: 5000})
	errs = append(errs, err)
	if driverName == "mysql" && c.DSN != "" {
		if _, err := mysql.ParseDSN(c.DSN.Value()); err != nil {
			errs = append(errs, fmt.Errorf("%s.dsn: not a MySQL DSN (user:password@tcp(host:3306)/database)", path))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// sql.Open connects nobody: the first batch does.
	s.db, err = dbsql.Open(driverName, c.DSN.Value())
	if err != nil {
		return nil, fmt.Errorf("%s.dsn: %s", path, redactDSN(err))
	}
	s.db.SetMaxOpenConns(2)
	s.db.SetConnMaxIdleTime(5 * time.Minute)
	s.insert = insert(s.driver, s.mode, s.table)
	return s, nil
}

type sink struct {
	sinks.Batching
	driver, table, mode string
	create              bool
	insert              string
	db                  *dbsql.DB

	mu    sync.Mutex
	ready bool // the table was created or checked
}

func (s *sink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return s.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}

// SendBatch writes evs in one transaction. A row the database refuses (a
// constraint, a value it cannot store) fails alone, for good; any other
// error rolls the batch back, to be sent again.
func (s *sink) SendBatch(ctx context.Context, evs []*event.EnhancedEvent) []error {
	if err := s.prepare(ctx); err != nil {
		return fill(make([]error, len(evs)), err)
	}
	errs, refused := s.write(ctx, evs, false)
	if refused && s.driver == "postgres" {
		// PostgreSQL aborts the whole transaction on one error: the batch
		// again with a savepoint per row (a round trip each, so only when
		// needed) keeps the other rows.
		errs, _ = s.write(ctx, evs, true)
	}
	return errs
}

// write runs one transaction; refused reports a row the database refused
// (on PostgreSQL without savepoints, the transaction is then rolled back
// and nothing was written).
func (s *sink) write(ctx context.Context, evs []*event.EnhancedEvent, savepoints bool) (errs []error, refused bool) {
	errs = make([]error, len(evs))
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fill(errs, classify(err)), false
	}
	defer tx.Rollback() //nolint:errcheck // after Commit: nothing to roll back
	stmt, err := tx.PrepareContext(ctx, s.insert)
	if err != nil {
		return fill(errs, classify(err)), false
	}
	defer stmt.Close()
	for i, ev := range evs {
		args, err := rowValues(s.mode, ev)
		if err != nil {
			errs[i] = err
			continue
		}
		if savepoints {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT row"); err != nil {
				return fill(errs, classify(err)), false
			}
		}
		_, err = stmt.ExecContext(ctx, args...)
		switch {
		case err != nil && rowRefused(err):
			errs[i] = sinks.Permanent(sinks.ClassRejected, fmt.Errorf("%s refused the row: %w", s.driver, err))
			if s.driver == "postgres" && !savepoints {
				return fill(errs, sinks.Retryable(sinks.ClassRejected, errors.New("batch rolled back for another row"), 0)), true
			}
			if savepoints {
				if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT row"); err != nil {
					return fill(errs, classify(err)), false
				}
			}
		case err != nil:
			return fill(errs, classify(err)), false
		}
	}
	if err := tx.Commit(); err != nil {
		return fill(errs, classify(err)), false
	}
	return errs, false
}

// fill sets every error of errs to err.
func fill(errs []error, err error) []error {
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// prepare creates the table (createTable) and checks an append table
// has the count column its de-duplication needs, once.
func (s *sink) prepare(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		return nil
	}
	if s.create {
		for _, stmt := range createTable(s.driver, s.mode, s.table) {
			if _, err := s.db.ExecContext(ctx, stmt); err != nil {
				return classify(fmt.Errorf("creating table %s: %w", s.table, err))
			}
		}
	}
	if s.mode == ModeAppend {
		rows, err := s.db.QueryContext(ctx, "SELECT event_id, count FROM "+quote(s.driver, s.table)+" WHERE 1 = 0")
		if err != nil {
			if rowRefused(err) || isUndefined(err) {
				return sinks.Permanent(sinks.ClassRejected, fmt.Errorf("table %s has no event_id and count columns (kube-eventer's table lacks count): "+
					"ALTER TABLE %s ADD COLUMN count INT NULL, ADD UNIQUE (event_id, count); then replay the dead letters: %w", s.table, s.table, err))
			}
			return classify(err)
		}
		rows.Close()
	}
	s.ready = true
	return nil
}

// rowRefused tells a row the database will never take (a constraint, a
// value too long or of the wrong type) from a failure worth retrying.
func rowRefused(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1048, 1062, 1264, 1265, 1292, 1366, 1406, 1452, 3140, 4025:
			// null, duplicate, out of range, truncated, bad value, bad
			// string, too long, foreign key, bad JSON, check constraint
			return true
		}
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return len(pe.Code) == 5 && (pe.Code[:2] == "22" || pe.Code[:2] == "23") // data exception, integrity constraint
	}
	return false
}

// isUndefined is a missing table or column.
func isUndefined(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1146 || me.Number == 1054
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "42703")
}

// classify is a failed batch's error: the server's refusal of the
// statement (a syntax or permission error: the table was changed under
// us) is permanent, anything else (the connection, a deadlock, a
// read-only replica after a failover) is retried.
func classify(err error) error {
	if cut, ok := sinks.CutShort(err); ok {
		return cut
	}
	var me *mysql.MySQLError
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &me):
		switch me.Number {
		case 1044, 1045, 1142, 1146, 1054, 1064:
			return sinks.Permanent(sinks.ClassRejected, err)
		}
		return sinks.Retryable(sinks.ClassRejected, err, 0)
	case errors.As(err, &pe):
		if pe.Code[:2] == "42" || pe.Code[:2] == "28" { // syntax or access rule, authorization
			return sinks.Permanent(sinks.ClassRejected, err)
		}
		return sinks.Retryable(sinks.ClassRejected, err, 0)
	}
	return sinks.Retryable(sinks.ClassNetwork, redactDSN(err), 0)
}

// dsnPassword finds a password in an error that quotes a DSN.
var dsnPassword = regexp.MustCompile(`(//[^:/@\s]*:|^[^:/@\s]*:|\s[^:/@\s]*:)[^@\s]*@`)

// redactDSN keeps a DSN's password out of an error.
func redactDSN(err error) error {
	return errors.New(dsnPassword.ReplaceAllString(err.Error(), "${1}<redacted>@"))
}

func (s *sink) Preview(ev *event.EnhancedEvent) (any, error) {
	args, err := rowValues(s.mode, ev)
	if err != nil {
		return nil, err
	}
	row := map[string]any{}
	for i, c := range columns[s.mode] {
		row[c] = args[i]
	}
	return map[string]any{"statement": s.insert, "row": row}, nil
}

func (s *sink) Close() error { return s.db.Close() }

var (
	_ sinks.Lingerer  = (*sink)(nil)
	_ sinks.Previewer = (*sink)(nil)
)
