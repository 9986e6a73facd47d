package db

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// redactedSecret replaces every secret Redact finds.
const redactedSecret = "xxxxx"

// secretKeys are the connection settings whose values are secrets: the password
// and the TLS client key's passphrase. passfile names a file and is kept.
var secretKeys = []string{"password", "sslpassword"}

func isSecretKey(k string) bool {
	for _, s := range secretKeys {
		if strings.EqualFold(strings.TrimSpace(k), s) {
			return true
		}
	}
	return false
}

// Redact returns a connection string fit to print: every password replaced by
// "xxxxx", in each form pgx accepts: a URL's userinfo (postgres://user:secret@host),
// its password= and sslpassword= query parameters, and the password= and
// sslpassword= settings of the key=value form (quoted or not). A URL of another
// scheme is treated like a PostgreSQL URL. What cannot be parsed is masked
// generously: from a password key to the end, and anything shaped like
// ":secret@".
func Redact(dsn string) string {
	if _, rest, ok := cutScheme(dsn); ok {
		return redactURL(dsn[:len(dsn)-len(rest)], rest)
	}
	if out, ok := redactKeyValue(dsn); ok {
		return out
	}
	return redactBroken(dsn)
}

// cutScheme splits "scheme://rest"; ok is false when dsn does not start with a
// URL scheme (key=value settings may contain "://" further on).
func cutScheme(dsn string) (scheme, rest string, ok bool) {
	scheme, rest, ok = strings.Cut(dsn, "://")
	if !ok || scheme == "" {
		return "", "", false
	}
	for i, c := range scheme {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", "", false
		}
	}
	return scheme, rest, true
}

// redactURL masks the userinfo password and the secret query parameters of
// prefix+p (prefix is "scheme://").
func redactURL(prefix, p string) string {
	var b strings.Builder
	b.WriteString(prefix)
	// The userinfo ends at the last '@' before the query. A password with an
	// unencoded '?' ("user:pa?ss@host") puts its '@' after the '?': an '@' there
	// ends the userinfo when no '/' comes before it (a query has its path first).
	q := strings.IndexByte(p, '?')
	if q < 0 {
		q = len(p)
	}
	at := strings.LastIndexByte(p[:q], '@')
	if at < 0 {
		if i := strings.IndexByte(p[q:], '@'); i >= 0 && !strings.Contains(p[:q+i], "/") {
			at = q + i
		}
	}
	if at >= 0 {
		user, _, hasPassword := strings.Cut(p[:at], ":")
		b.WriteString(user)
		if hasPassword {
			b.WriteString(":" + redactedSecret)
		}
		b.WriteByte('@')
		p = p[at+1:]
	}
	base, query, hasQuery := strings.Cut(p, "?")
	b.WriteString(base)
	if !hasQuery {
		return b.String()
	}
	b.WriteByte('?')
	query, fragment, hasFragment := strings.Cut(query, "#")
	for i, kv := range strings.Split(query, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		k, _, hasValue := strings.Cut(kv, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			key = k
		}
		if hasValue && isSecretKey(key) {
			b.WriteString(k + "=" + redactedSecret)
			continue
		}
		b.WriteString(kv)
	}
	if hasFragment {
		b.WriteString("#" + fragment)
	}
	return b.String()
}

// redactKeyValue masks the secret settings of libpq's key=value form
// (`host=db password='it\'s secret'`), keeping the rest as written. ok is false
// when s is not well-formed key=value settings.
func redactKeyValue(s string) (string, bool) {
	var b strings.Builder
	i := 0
	skipSpace := func() {
		for i < len(s) && isSpace(s[i]) {
			b.WriteByte(s[i])
			i++
		}
	}
	for {
		skipSpace()
		if i == len(s) {
			return b.String(), true
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		b.WriteString(key)
		skipSpace()
		if i == len(s) || s[i] != '=' || key == "" {
			return "", false
		}
		b.WriteByte('=')
		i++
		skipSpace()
		vstart := i
		if i < len(s) && s[i] == '\'' {
			i++
			for {
				if i >= len(s) {
					return "", false // unterminated quote
				}
				if s[i] == '\\' {
					i += 2
					continue
				}
				if s[i] == '\'' {
					i++
					break
				}
				i++
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			i = min(i, len(s))
		}
		if isSecretKey(key) {
			b.WriteString(redactedSecret)
		} else {
			b.WriteString(s[vstart:i])
		}
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

var (
	brokenSecretSetting = regexp.MustCompile(`(?is)((?:ssl)?password\s*=).*`)
	brokenUserinfo      = regexp.MustCompile(`:[^@]*@`)
)

// redactBroken masks what a string that parses as neither form could hide: from
// the first password setting to the end, and everything shaped like ":secret@".
func redactBroken(s string) string {
	s = brokenSecretSetting.ReplaceAllString(s, "${1}"+redactedSecret)
	return brokenUserinfo.ReplaceAllLiteralString(s, ":"+redactedSecret+"@")
}

// ConnectFailure words a failure to connect in one line: the connection string
// without its secrets, the cause, and what to do about it, which depends on what
// went wrong: a server that cannot be reached (start one), credentials refused
// (check them), a database that is missing and may not be created (create it).
func ConnectFailure(rawURL string, err error) error {
	where := Redact(rawURL)
	cause := rootCause(err)
	switch classifyConnectError(err) {
	case connectUnreachable:
		return fmt.Errorf("cannot reach PostgreSQL at %s (%s); start one with `docker compose up -d postgres` or set DATABASE_URL", where, cause)
	case connectCredentials:
		return fmt.Errorf("PostgreSQL at %s refused the credentials (%s); check the user and password in DATABASE_URL", where, cause)
	case connectNoDatabase:
		return fmt.Errorf("the database of %s does not exist and this role may not create it (%s); create it, or use a role with CREATEDB", where, cause)
	}
	return fmt.Errorf("cannot connect to PostgreSQL at %s (%s); check DATABASE_URL", where, cause)
}

type connectErrorClass int

const (
	connectOther connectErrorClass = iota
	connectUnreachable
	connectCredentials
	connectNoDatabase
)

// classifyConnectError tells why a connection failed: a refusal by the server
// (an SQLSTATE) is checked first, for it arrives over a working network.
func classifyConnectError(err error) connectErrorClass {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01", "28000": // invalid_password, invalid_authorization_specification
			return connectCredentials
		case "42501": // insufficient_privilege: CREATE DATABASE refused
			return connectNoDatabase
		}
		return connectOther
	}
	var netErr net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr), errors.As(err, &netErr),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, context.DeadlineExceeded):
		return connectUnreachable
	}
	return connectOther
}

// rootCause is the innermost readable reason: the server's message, or the last
// part of a connection error (pgconn's prefix names the user and database again).
func rootCause(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		msg := ce.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			return msg[i+2:]
		}
		return msg
	}
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) {
		// Its message quotes the connection string, redacted by pgx's best effort:
		// keep only what follows the quote.
		msg := pce.Error()
		if i := strings.LastIndex(msg, "`: "); i >= 0 {
			return msg[i+3:]
		}
		return "cannot be parsed"
	}
	return err.Error()
}

// notPostgres reports a URL of another scheme (mysql://, http://), which pgx would
// misread as key=value settings.
func notPostgres(dsn string) bool {
	scheme, _, ok := cutScheme(dsn)
	return ok && !strings.EqualFold(scheme, "postgres") && !strings.EqualFold(scheme, "postgresql")
}
