package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

func cmdMigrate(ctx context.Context, args []string, env envReader, stdout, stderr io.Writer) error {
	fs, dbURL := newFlags("migrate", env, stderr)
	to := fs.String("to", "", "down: roll back every migration after this version (0: all of them) instead of the last one")
	yes := fs.Bool("yes", false, "down: roll back even when that drops stored rows")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	action := "up"
	if len(pos) > 0 {
		action = pos[0]
	}
	if len(pos) > 1 {
		return usagef("migrate takes one of up, down, status")
	}
	if action != "down" && (*to != "" || *yes) {
		return usagef("--to and --yes are flags of migrate down")
	}
	if *to != "" && !isVersion(*to) {
		return usagef("--to: %q is not a migration version (digits, as migrate status lists them, or 0)", *to)
	}
	d, err := openDB(ctx, *dbURL, db.Options{})
	if err != nil {
		return err
	}
	defer d.Close()
	switch action {
	case "up":
		applied, err := d.MigrateUp(ctx)
		if err != nil {
			return err
		}
		if len(applied) == 0 {
			fmt.Fprintln(stdout, "schema is up to date")
		}
		for _, m := range applied {
			fmt.Fprintln(stdout, "applied", m)
		}
	case "down":
		plan, rolled, err := d.MigrateDown(ctx, *to, *yes, func(p db.RollbackPlan) error {
			fmt.Fprint(stdout, p)
			return nil
		})
		switch {
		case errors.Is(err, db.ErrUnknownVersion):
			return usageError{err.Error()}
		case errors.Is(err, db.ErrRollbackLosesData):
			return fmt.Errorf("%w; run it again with --yes to drop them", err)
		case err != nil:
			return err
		}
		for i, v := range rolled {
			fmt.Fprintln(stdout, "rolled back", v, plan.Steps[i].Comment)
		}
	case "status":
		st, err := d.MigrationState(ctx)
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, st)
	default:
		return usagef("unknown migrate action %q (want up, down or status)", action)
	}
	return nil
}

// isVersion reports whether s is all digits (a migration version, or 0).
func isVersion(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func cmdWorkspace(ctx context.Context, args []string, env envReader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "limits":
			return cmdWorkspaceLimits(ctx, args[1:], env, stdout, stderr)
		case "list":
			return cmdWorkspaceList(ctx, args[1:], env, stdout, stderr)
		case "delete":
			return cmdWorkspaceDelete(ctx, args[1:], env, stdout, stderr)
		}
	}
	fs, dbURL := newFlags("workspace", env, stderr)
	name := fs.String("name", "", "display name (default: the slug)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "create" {
		return usagef("usage: loggraph workspace create SLUG [--name N]")
	}
	d, err := openMigrated(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer d.Close()
	w, err := db.NewWorkspaceStore(d.Bun).Create(ctx, pos[1], *name)
	if err != nil {
		if errors.Is(err, db.ErrWorkspaceExists) || errors.Is(err, db.ErrInvalidSlug) {
			return usageError{err.Error()}
		}
		return err
	}
	fmt.Fprintln(stdout, w.ID)
	return nil
}

func cmdToken(ctx context.Context, args []string, env envReader, stdout, stderr io.Writer) error {
	fs, dbURL := newFlags("token", env, stderr)
	slug := fs.String("workspace", "", "workspace slug")
	roleName := fs.String("role", "", "read, ingest or admin (create)")
	name := fs.String("name", "", "a label for the token (create)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("usage: loggraph token create|list|revoke --workspace SLUG ...")
	}
	if *slug == "" {
		return usagef("--workspace is required")
	}
	var role model.Role
	switch pos[0] {
	case "create":
		var ok bool
		if role, ok = model.ParseRole(*roleName); !ok {
			return usagef("--role must be read, ingest or admin")
		}
	case "list":
	case "revoke":
		if len(pos) != 2 {
			return usagef("usage: loggraph token revoke --workspace SLUG TOKEN_ID")
		}
	default:
		return usagef("unknown token action %q (want create, list or revoke)", pos[0])
	}
	d, err := openMigrated(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer d.Close()
	ws, err := workspaceOr(ctx, d, *slug, "create it with: loggraph workspace create "+*slug)
	if err != nil {
		return err
	}
	tokens := db.NewTokenStore(d.Bun)
	switch pos[0] {
	case "create":
		if *name == "" {
			*name = string(role) + " token"
		}
		t, text, err := tokens.Create(ctx, ws.ID, *name, role)
		if errors.Is(err, db.ErrWorkspaceDeleting) {
			return usagef("workspace %s is being deleted (see loggraph workspace list); it takes no new token", ws.Slug)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s token %s (%q) in workspace %s; it is shown only once:\n", t.Role, t.ID, t.Name, ws.Slug)
		fmt.Fprintln(stdout, text)
	case "list":
		list, err := tokens.List(ctx, ws.ID)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tHINT\tCREATED\tLAST USED\tREVOKED")
		for _, t := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, t.Hint,
				t.CreatedAt.UTC().Format(time.RFC3339), timeOrDash(t.LastUsedAt), timeOrDash(t.RevokedAt))
		}
		return tw.Flush()
	case "revoke":
		id, err := uuid.Parse(pos[1])
		if err != nil {
			return usagef("%q is not a token id (see loggraph token list)", pos[1])
		}
		t, err := tokens.Revoke(ctx, ws.ID, id)
		if errors.Is(err, db.ErrNotFound) {
			return usagef("no token %s in workspace %s", id, ws.Slug)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked token %s (%q) at %s\n", t.ID, t.Name, t.RevokedAt.UTC().Format(time.RFC3339))
	}
	return nil
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func cmdSeed(ctx context.Context, args []string, env envReader, stdout, stderr io.Writer) error {
	fs, dbURL := newFlags("seed", env, stderr)
	slug := fs.String("workspace", "", "workspace slug")
	create := fs.Bool("create", false, "create the workspace if it does not exist (without it, a missing workspace is an error: a misspelled slug creates nothing)")
	rows := fs.Int("rows", 100000, "log rows across the five kinds")
	days := fs.Int("days", 7, "spread the rows over the last D days")
	partitionOptions := addPartitionFlags(fs, env)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	popts, err := partitionOptions()
	if err != nil {
		return err
	}
	if *slug == "" {
		return usagef("--workspace is required")
	}
	if *rows < 1 || *days < 1 {
		return usagef("--rows and --days must be at least 1")
	}
	d, err := openMigrated(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer d.Close()
	wss := db.NewWorkspaceStore(d.Bun)
	ws, err := wss.BySlug(ctx, *slug)
	if errors.Is(err, db.ErrNotFound) {
		if !*create {
			return usagef("no workspace %q (create it with: loggraph workspace create %s, or seed with --create)", *slug, *slug)
		}
		ws, err = wss.Create(ctx, *slug, "")
	}
	if err != nil {
		return err
	}
	res, err := db.Seed(ctx, d, db.NewPartitionsWith(d, popts), ws.ID, db.SeedOptions{Rows: *rows, Days: *days})
	if err != nil {
		return err
	}
	total := 0
	for _, k := range model.AllKinds {
		fmt.Fprintf(stdout, "%-14s %d\n", k.Route(), res.Rows[k])
		total += res.Rows[k]
	}
	fmt.Fprintf(stdout, "seeded %d rows into workspace %s in %s (%.0f rows/s)\n", total, ws.Slug,
		res.Duration.Round(time.Millisecond), float64(total)/res.Duration.Seconds())
	return nil
}
