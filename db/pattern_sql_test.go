package db_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/db/dbtest"
	"github.com/loggraph/loggraph/model"
)

// TestPatternSQLMatchesSeeds: PostgreSQL's regexp_replace chain (db.PatternSQL) gives
// model.MessagePattern's template for every tricky message of the fuzz test's seed
// corpus (quotes, UUIDs, hex, IP addresses, numbers inside words, unicode): the
// scanners at ingest and the SQL over rows mask alike.
func TestPatternSQLMatchesSeeds(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../model/testdata/pattern_seeds.json")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	if err := json.Unmarshal(b, &msgs); err != nil {
		t.Fatal(err)
	}
	d := dbtest.New(t)
	var got []string
	err = d.Bun.NewSelect().
		ColumnExpr("?", db.PatternSQL(bun.Safe("m.msg"))).
		TableExpr("unnest(?::text[]) WITH ORDINALITY AS m(msg, n)", pgdialect.Array(msgs)).
		OrderExpr("m.n").Scan(context.Background(), &got)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(msgs) {
		t.Fatalf("%d templates for %d messages", len(got), len(msgs))
	}
	for i, msg := range msgs {
		t.Run(msg, func(t *testing.T) {
			if want := model.MessagePattern(msg); got[i] != want {
				t.Errorf("%q: SQL %q, MessagePattern %q", msg, got[i], want)
			}
		})
	}
}
