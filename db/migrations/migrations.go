// Package migrations embeds the SQL migrations into the binary.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/uptrace/bun/migrate"
)

//go:embed *.sql
var sqlFiles embed.FS

// Load returns loggraph's schema history, read from the embedded SQL files.
func Load() (*migrate.Migrations, error) {
	m := migrate.NewMigrations()
	if err := m.Discover(sqlFiles); err != nil {
		return nil, fmt.Errorf("discover migrations: %w", err)
	}
	return m, nil
}

// FS exposes the embedded files (tests hash them to name the template database).
func FS() embed.FS { return sqlFiles }

// DownSQL returns the text of the down migration of version (the name bun gives a
// migration: the digits its files start with); "" when it has none.
func DownSQL(version string) (string, error) {
	for _, pattern := range []string{version + "_*.tx.down.sql", version + "_*.down.sql"} {
		names, err := fs.Glob(sqlFiles, pattern)
		if err != nil {
			return "", err
		}
		if len(names) > 0 {
			b, err := sqlFiles.ReadFile(names[0])
			return string(b), err
		}
	}
	return "", nil
}
