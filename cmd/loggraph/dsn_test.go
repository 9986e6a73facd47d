package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/loggraph/loggraph/db/dbtest"
)

// TestConnectFailuresPrintNoSecret: for each way connecting fails, and each form of
// connection string, the one line the CLI prints names the place without the
// password and says what is actually wrong.
func TestConnectFailuresPrintNoSecret(t *testing.T) {
	t.Parallel()
	admin, err := pgx.ParseConfig(dbtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	host, port := admin.Host, admin.Port
	// A role that may log in (trust on this machine) but not create databases.
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	role := "lg_nocreatedb_" + hex.EncodeToString(suffix)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN NOCREATEDB PASSWORD 'secret'", role)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = conn.Exec(ctx, "DROP ROLE IF EXISTS "+role)
		_ = conn.Close(ctx)
	})

	const (
		unreachable = "; start one with `docker compose up -d postgres` or set DATABASE_URL"
		credentials = "refused the credentials (role \"nobody_lg\" does not exist); check the user and password in DATABASE_URL"
		noCreate    = "does not exist and this role may not create it (permission denied to create database); create it, or use a role with CREATEDB"
	)
	cases := []struct {
		name, dsn, want string
	}{
		{"unreachable, url userinfo", "postgres://bob:secret@127.0.0.1:1/loggraph?sslmode=disable&connect_timeout=5",
			"cannot reach PostgreSQL at postgres://bob:xxxxx@127.0.0.1:1/loggraph?sslmode=disable&connect_timeout=5 ("},
		{"unreachable, url query", "postgres://bob@127.0.0.1:1/loggraph?sslmode=disable&password=secret",
			"cannot reach PostgreSQL at postgres://bob@127.0.0.1:1/loggraph?sslmode=disable&password=xxxxx ("},
		{"unreachable, key=value", "host=127.0.0.1 port=1 user=bob password='secret' dbname=loggraph sslmode=disable",
			"cannot reach PostgreSQL at host=127.0.0.1 port=1 user=bob password=xxxxx dbname=loggraph sslmode=disable ("},
		{"credentials, url userinfo", fmt.Sprintf("postgres://nobody_lg:secret@%s:%d/postgres?sslmode=disable", host, port),
			fmt.Sprintf("PostgreSQL at postgres://nobody_lg:xxxxx@%s:%d/postgres?sslmode=disable %s", host, port, credentials)},
		{"credentials, url query", fmt.Sprintf("postgres://nobody_lg@%s:%d/postgres?sslmode=disable&password=secret", host, port),
			fmt.Sprintf("PostgreSQL at postgres://nobody_lg@%s:%d/postgres?sslmode=disable&password=xxxxx %s", host, port, credentials)},
		{"credentials, key=value", fmt.Sprintf("host=%s port=%d user=nobody_lg password=secret dbname=postgres sslmode=disable", host, port),
			fmt.Sprintf("PostgreSQL at host=%s port=%d user=nobody_lg password=xxxxx dbname=postgres sslmode=disable %s", host, port, credentials)},
		{"may not create, url", fmt.Sprintf("postgres://%s:secret@%s:%d/lg_missing_%s?sslmode=disable", role, host, port, role),
			fmt.Sprintf("the database of postgres://%s:xxxxx@%s:%d/lg_missing_%s?sslmode=disable %s", role, host, port, role, noCreate)},
		{"may not create, key=value", fmt.Sprintf("host=%s port=%d user=%s password=secret dbname=lg_missing_%s sslmode=disable", host, port, role, role),
			fmt.Sprintf("the database of host=%s port=%d user=%s password=xxxxx dbname=lg_missing_%s sslmode=disable %s", host, port, role, role, noCreate)},
		{"not postgres", "mysql://root:secret@127.0.0.1:3306/loggraph",
			"the database URL mysql://root:xxxxx@127.0.0.1:3306/loggraph is not a PostgreSQL URL: use postgres://user:password@host:5432/database or key=value settings (host=... dbname=...)"},
		{"unparseable", "postgres://bob:secret@127.0.0.1:notaport/loggraph",
			"invalid database URL postgres://bob:xxxxx@127.0.0.1:notaport/loggraph: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := cli(t, c.dsn, "migrate", "status")
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "secret") || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, c.want) {
				t.Fatalf("got  %s\nwant %s...", msg, c.want)
			}
			if strings.HasPrefix(c.name, "unreachable") != strings.HasSuffix(msg, unreachable) {
				t.Fatalf("the docker hint is for an unreachable server only: %s", msg)
			}
		})
	}
}
