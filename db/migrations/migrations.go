// Package migrations embeds the SQL migrations into the binary.
package migrations

import (
	"embed"
	"fmt"

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
