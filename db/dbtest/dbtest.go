// Package dbtest gives each test its own PostgreSQL database, cloned from a migrated
// template (CREATE DATABASE ... TEMPLATE), so that tests run in parallel and never
// see each other's rows.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/migrations"
)

// EnvURL names the maintenance-database URL the tests use.
const EnvURL = "LOGGRAPH_TEST_DATABASE_URL"

const defaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// AdminURL is the URL of the maintenance database tests create databases through.
func AdminURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return defaultAdminURL
}

// WithDatabase returns url pointing at database name.
func WithDatabase(rawURL, name string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	u.Path = "/" + name
	return u.String()
}

// migrationsHash names the template after the migration files, so that a changed
// schema gets a new template and an unchanged one is reused across runs.
func migrationsHash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS(), path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12], err
}

func ensureTemplate(ctx context.Context) (string, error) {
	sum, err := migrationsHash()
	if err != nil {
		return "", err
	}
	name := "loggraph_tmpl_" + sum
	conn, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return "", fmt.Errorf("tests need PostgreSQL at %s (set %s): %w", db.Redact(AdminURL()), EnvURL, err)
	}
	defer conn.Close(ctx)
	// Test binaries of several packages run at once: one builds, the others wait.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7262)"); err != nil {
		return "", err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(7262)") //nolint:errcheck
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	build := name + "_build"
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+build+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+build); err != nil {
		return "", err
	}
	d, err := db.Open(ctx, WithDatabase(AdminURL(), build), db.Options{MaxConns: 2})
	if err != nil {
		return "", err
	}
	_, err = d.MigrateUp(ctx)
	d.Close()
	if err != nil {
		return "", err
	}
	for _, q := range []string{
		"ALTER DATABASE " + build + " RENAME TO " + name,
		"ALTER DATABASE " + name + " IS_TEMPLATE true",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return "", err
		}
	}
	return name, nil
}

// NewURL creates a fresh migrated database for t and returns its URL; the database
// is dropped when the test ends (under Main, after it ended).
func NewURL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(ctx) })
	if templateErr != nil {
		t.Fatalf("test database: %v", templateErr)
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "lgtest_" + hex.EncodeToString(suffix)
	conn, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("test database: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+templateName); err != nil {
		t.Fatalf("clone template: %v", err)
	}
	t.Cleanup(func() {
		if drops.on.Load() {
			drops.drop(name)
			return
		}
		if err := drop(name); err != nil {
			t.Error(err)
		}
	})
	return WithDatabase(AdminURL(), name)
}

// drop drops a test database. DROP DATABASE waits for a checkpoint, which on a
// machine busy with other test runs has been seen to take minutes: the timeout is
// generous, as a slow drop is not a failure of the code under test.
func drop(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return fmt.Errorf("drop test database: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop test database: %w", err)
	}
	return nil
}

// dropper drops test databases after their tests ended (under Main). PostgreSQL
// takes a checkpoint for every DROP DATABASE before it returns, flushing every
// database's dirty pages: a test that waited for it would hold its parallel slot
// meanwhile, whereas drops running together share checkpoints.
type dropper struct {
	on    atomic.Bool   // Main is running the tests
	slots chan struct{} // bounds the admin connections drops hold at once
	wg    sync.WaitGroup
	mu    sync.Mutex
	errs  []error
}

var drops = dropper{slots: make(chan struct{}, 4)}

func (d *dropper) drop(name string) {
	d.wg.Go(func() {
		d.slots <- struct{}{}
		defer func() { <-d.slots }()
		if err := drop(name); err != nil {
			d.mu.Lock()
			d.errs = append(d.errs, err)
			d.mu.Unlock()
		}
	})
}

// Main runs a package's tests (call it from TestMain) and returns their exit code:
// under it, a test's database is dropped after the test has ended, and Main waits
// for every drop (a failed drop fails the run). Without it, each test waits for its
// own drop.
func Main(m *testing.M) int {
	drops.on.Store(true)
	code := m.Run()
	drops.wg.Wait()
	for _, err := range drops.errs {
		fmt.Fprintln(os.Stderr, err)
		code = max(code, 1)
	}
	return code
}

// New opens a fresh migrated database for t; it is closed and dropped when the
// test ends (see NewURL).
func New(t testing.TB) *db.DB {
	t.Helper()
	return Open(t, NewURL(t), db.Options{})
}

// Open opens url (a database of NewURL) with opts; zero fields take small test
// pools (several test binaries share the server's 100 connections) and a generous
// acquire timeout (a loaded machine must not make a test's statements fail). It is
// closed when the test ends, before NewURL's drop.
func Open(t testing.TB, url string, opts db.Options) *db.DB {
	t.Helper()
	if opts.MaxConns == 0 {
		opts.MaxConns = 6
	}
	if opts.IngestConns == 0 {
		opts.IngestConns = 4
	}
	if opts.SystemConns == 0 {
		opts.SystemConns = 3
	}
	if opts.AcquireTimeout == 0 {
		opts.AcquireTimeout = time.Minute
	}
	d, err := db.Open(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(d.Close)
	return d
}
