package db

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, in, want string }{
		{"url userinfo", "postgres://bob:secret@db:5432/app?sslmode=disable", "postgres://bob:xxxxx@db:5432/app?sslmode=disable"},
		{"postgresql scheme", "postgresql://bob:secret@db/app", "postgresql://bob:xxxxx@db/app"},
		{"url user only", "postgres://bob@db/app", "postgres://bob@db/app"},
		{"url no userinfo", "postgres://db:5432/app", "postgres://db:5432/app"},
		{"url empty password", "postgres://bob:@db/app", "postgres://bob:xxxxx@db/app"},
		{"url encoded password", "postgres://bob:s%40cr%2Fet@db/app", "postgres://bob:xxxxx@db/app"},
		{"url password with slash", "postgres://bob:12/secret@db/app", "postgres://bob:xxxxx@db/app"},
		{"url password with at", "postgres://bob:se@cret@db/app", "postgres://bob:xxxxx@db/app"},
		{"url password with question mark", "postgres://bob:se?cret@db/app", "postgres://bob:xxxxx@db/app"},
		{"url query password", "postgres://bob@db/app?sslmode=disable&password=secret", "postgres://bob@db/app?sslmode=disable&password=xxxxx"},
		{"url query password first", "postgres://db/app?password=secret&user=bob", "postgres://db/app?password=xxxxx&user=bob"},
		{"url query encoded key", "postgres://db/app?pass%77ord=secret", "postgres://db/app?pass%77ord=xxxxx"},
		{"url query sslpassword", "postgres://db/app?sslkey=/k.pem&sslpassword=secret", "postgres://db/app?sslkey=/k.pem&sslpassword=xxxxx"},
		{"url query passfile kept", "postgres://db/app?passfile=/home/bob/.pgpass", "postgres://db/app?passfile=/home/bob/.pgpass"},
		{"url both", "postgres://bob:secret@db/app?password=secret2", "postgres://bob:xxxxx@db/app?password=xxxxx"},
		{"url at in query value", "postgres://bob:secret@db/app?application_name=a@b", "postgres://bob:xxxxx@db/app?application_name=a@b"},
		{"url multi-host", "postgres://bob:secret@h1:5432,h2:5433/app", "postgres://bob:xxxxx@h1:5432,h2:5433/app"},
		{"url unix socket", "postgres://bob:secret@%2Fvar%2Frun%2Fpostgresql/app", "postgres://bob:xxxxx@%2Fvar%2Frun%2Fpostgresql/app"},
		{"other scheme", "mysql://root:secret@db:3306/app", "mysql://root:xxxxx@db:3306/app"},
		{"kv plain", "host=db user=bob password=secret dbname=app", "host=db user=bob password=xxxxx dbname=app"},
		{"kv quoted", "host=db password='se cret' dbname=app", "host=db password=xxxxx dbname=app"},
		{"kv quoted escape", `host=db password='it\'s secret' dbname=app`, "host=db password=xxxxx dbname=app"},
		{"kv spaces around =", "host=db password = secret dbname=app", "host=db password = xxxxx dbname=app"},
		{"kv escaped space", `password=se\ cret host=db`, "password=xxxxx host=db"},
		{"kv sslpassword", "host=db sslpassword=secret sslkey=/k.pem", "host=db sslpassword=xxxxx sslkey=/k.pem"},
		{"kv passfile kept", "host=db passfile=/home/bob/.pgpass", "host=db passfile=/home/bob/.pgpass"},
		{"kv last", "host=db password=secret", "host=db password=xxxxx"},
		{"kv unterminated quote", "host=db password='secret dbname=app", "host=db password=xxxxx"},
		{"kv broken before password", "host='db password=secret", "host='db password=xxxxx"},
		{"not a dsn", "bob:secret@db", "bob:xxxxx@db"},
		{"empty", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Redact(c.in)
			if got != c.want {
				t.Fatalf("Redact(%q) = %q, want %q", c.in, got, c.want)
			}
			if strings.Contains(got, "secret") || strings.Contains(got, "cret") {
				t.Fatalf("Redact(%q) = %q leaks the secret", c.in, got)
			}
		})
	}
}

func TestConnectFailureHints(t *testing.T) {
	t.Parallel()
	const dsn = "host=db user=bob password=secret dbname=app"
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"wrong password", &pgconn.PgError{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "bob"`},
			`PostgreSQL at host=db user=bob password=xxxxx dbname=app refused the credentials (password authentication failed for user "bob"); check the user and password in DATABASE_URL`},
		{"no such role", &pgconn.PgError{Severity: "FATAL", Code: "28000", Message: `role "bob" does not exist`},
			`PostgreSQL at host=db user=bob password=xxxxx dbname=app refused the credentials (role "bob" does not exist); check the user and password in DATABASE_URL`},
		{"may not create the database", &pgconn.PgError{Code: "42501", Message: "permission denied to create database"},
			"the database of host=db user=bob password=xxxxx dbname=app does not exist and this role may not create it (permission denied to create database); create it, or use a role with CREATEDB"},
		{"connection refused", fmt.Errorf("ping: %w", refused),
			"cannot reach PostgreSQL at host=db user=bob password=xxxxx dbname=app (ping: dial tcp: connect: connection refused); start one with `docker compose up -d postgres` or set DATABASE_URL"},
		{"no such host", &net.DNSError{Err: "no such host", Name: "db", IsNotFound: true},
			"cannot reach PostgreSQL at host=db user=bob password=xxxxx dbname=app (lookup db: no such host); start one with `docker compose up -d postgres` or set DATABASE_URL"},
		{"timeout", fmt.Errorf("connect: %w", context.DeadlineExceeded),
			"cannot reach PostgreSQL at host=db user=bob password=xxxxx dbname=app (connect: context deadline exceeded); start one with `docker compose up -d postgres` or set DATABASE_URL"},
		{"too many connections", &pgconn.PgError{Code: "53300", Message: "sorry, too many clients already"},
			"cannot connect to PostgreSQL at host=db user=bob password=xxxxx dbname=app (sorry, too many clients already); check DATABASE_URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ConnectFailure(dsn, c.err).Error()
			if got != c.want {
				t.Fatalf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}
