package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
	"github.com/loggraph/loggraph/rest"
)

// stdin is where `workspace delete` reads its confirmation (tests replace it).
var stdin io.Reader = os.Stdin

// parseKind reads a kind as the REST routes spell it (app, api-request, ...) or as
// GraphQL does (APP, API_REQUEST, ...).
func parseKind(s string) (model.LogKind, error) {
	if k, ok := model.KindFromRoute(s); ok {
		return k, nil
	}
	if k := model.LogKind(s); k.IsValid() {
		return k, nil
	}
	return "", usagef("--kind %q: want app, api-request, integration, action or api-reference", s)
}

// workspaceBySlug finds a workspace, or says how to list them.
func workspaceBySlug(ctx context.Context, d *db.DB, slug string) (*model.Workspace, error) {
	if slug == "" {
		return nil, usagef("--workspace is required")
	}
	return workspaceOr(ctx, d, slug, "see loggraph workspace list")
}

// workspaceOr looks a workspace up by slug; a missing one is a usage error whose
// parenthesis says what to do (hint).
func workspaceOr(ctx context.Context, d *db.DB, slug, hint string) (*model.Workspace, error) {
	ws, err := db.NewWorkspaceStore(d.Bun).BySlug(ctx, slug)
	if errors.Is(err, db.ErrNotFound) {
		return nil, usagef("no workspace %q (%s)", slug, hint)
	}
	return ws, err
}

func cmdRetention(ctx context.Context, args []string, env envReader, stdout, stderr io.Writer) error {
	fs, dbURL := newFlags("retention", env, stderr)
	slug := fs.String("workspace", "", "a workspace's retention (show, set); default: the server-wide defaults")
	kindName := fs.String("kind", "", "the log kind (set): app, api-request, integration, action or api-reference")
	days := fs.String("days", "", "days to keep (set): a number, forever, or default (a workspace's override removed)")
	dryRun := fs.Bool("dry-run", false, "report what apply would delete, delete nothing")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: loggraph retention show|set|apply [flags]")
	}
	var kind model.LogKind
	var keep *int
	reset := false
	switch pos[0] {
	case "show", "apply":
	case "set":
		if kind, err = parseKind(*kindName); err != nil {
			return err
		}
		switch *days {
		case "forever":
		case "default":
			if *slug == "" {
				return usagef("--days default resets a workspace's override: give --workspace (or --days forever for the server default)")
			}
			reset = true
		default:
			n, err := strconv.Atoi(*days)
			if err != nil {
				return usagef("--days %q: want a number of days, forever or default", *days)
			}
			if err := db.CheckRetentionDays(n); err != nil {
				return usagef("--days: %v", err)
			}
			keep = &n
		}
	default:
		return usagef("unknown retention action %q (want show, set or apply)", pos[0])
	}
	d, err := openMigrated(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer d.Close()
	life := db.NewLifecycle(d)
	var ws *model.Workspace
	if *slug != "" {
		if ws, err = workspaceBySlug(ctx, d, *slug); err != nil {
			return err
		}
	}
	switch pos[0] {
	case "set":
		if ws == nil {
			err = life.SetDefaultRetention(ctx, kind, keep)
		} else {
			err = life.SetWorkspaceRetention(ctx, ws.ID, kind, keep, reset)
		}
		if err != nil {
			return err
		}
		return showRetention(ctx, life, ws, stdout)
	case "apply":
		rep, err := life.ApplyRetention(ctx, db.RetentionOptions{DryRun: *dryRun})
		if errors.Is(err, db.ErrRetentionBusy) {
			return fmt.Errorf("%w (a server's retention job, or another loggraph retention apply); try again later", err)
		}
		if rep != nil {
			printDeletion(stdout, rep)
		}
		return err
	}
	return showRetention(ctx, life, ws, stdout)
}

// showRetention prints the defaults, or a workspace's retention, and the last run.
func showRetention(ctx context.Context, life *db.Lifecycle, ws *model.Workspace, stdout io.Writer) error {
	id := uuid.Nil
	if ws != nil {
		id = ws.ID
	}
	rs, err := life.Retention(ctx, id)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tDAYS\tSOURCE")
	for _, r := range rs {
		days := "forever"
		if r.Days != nil {
			days = strconv.Itoa(*r.Days)
		}
		src := strings.ToLower(string(r.Source))
		if ws == nil {
			src = "server default"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Kind.Route(), days, src)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	last, err := life.LastRetentionRun(ctx)
	if err != nil {
		return err
	}
	if last == nil {
		fmt.Fprintln(stdout, "last retention run: none")
		return nil
	}
	result := "ok"
	if !last.OK {
		result = "failed: " + last.Error
	}
	fmt.Fprintf(stdout, "last retention run: %s, %s; %d rows, %d partitions, %d bytes\n",
		last.StartedAt.UTC().Format(time.RFC3339), result, last.Rows, last.Partitions, last.Bytes)
	return nil
}

// printDeletion prints a deletion report kind by kind, then its totals.
func printDeletion(w io.Writer, rep *db.DeletionReport) {
	verb := "deleted"
	if rep.DryRun {
		verb = "would delete"
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tROWS\tPARTITIONS\tBYTES")
	for _, k := range rep.Kinds {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", k.Kind.Route(), k.Rows, len(k.Partitions), k.Bytes)
	}
	_ = tw.Flush()
	rows, bytes, parts := rep.Totals()
	fmt.Fprintf(w, "%s %d rows, %d partitions, %d bytes\n", verb, rows, parts, bytes)
}

func cmdWorkspaceList(ctx context.Context, args []string, env envReader, stdout, stderr io.Writer) error {
	fs, dbURL := newFlags("workspace list", env, stderr)
	if pos, err := parseArgs(fs, args); err != nil {
		return err
	} else if len(pos) != 0 {
		return usagef("usage: loggraph workspace list")
	}
	d, err := openMigrated(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer d.Close()
	list, err := db.NewLifecycle(d).Workspaces(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLUG\tID\tNAME\tCREATED\tSTATE")
	for _, w := range list {
		state := "active"
		if w.DeletingSince != nil {
			state = "deleting since " + w.DeletingSince.UTC().Format(time.RFC3339) + " (rerun workspace delete to finish)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", w.Slug, w.ID, w.Name, w.CreatedAt.UTC().Format(time.RFC3339), state)
	}
	return tw.Flush()
}

func cmdWorkspaceDelete(ctx context.Context, args []string, env envReader, stdout, stderr io.Writer) error {
	fs, dbURL := newFlags("workspace delete", env, stderr)
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: loggraph workspace delete SLUG [--yes]")
	}
	d, err := openMigrated(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer d.Close()
	ws, err := workspaceBySlug(ctx, d, pos[0])
	if err != nil {
		return err
	}
	life := db.NewLifecycle(d)
	if !*yes {
		dry, err := life.DeleteWorkspace(ctx, ws.ID, db.DeleteOptions{DryRun: true})
		if err != nil {
			return err
		}
		rows, _, _ := dry.Totals()
		fmt.Fprintf(stdout, "workspace %s (%s) holds %d logs; deleting it removes them, its tokens, entities and settings.\n", ws.Slug, ws.ID, rows)
		fmt.Fprintf(stdout, "Type the slug (%s) to confirm: ", ws.Slug)
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if strings.TrimSpace(line) != ws.Slug {
			return usagef("not confirmed; nothing was deleted")
		}
	}
	rep, err := life.DeleteWorkspace(ctx, ws.ID, db.DeleteOptions{})
	printDeletion(stdout, rep)
	if err != nil {
		return fmt.Errorf("%w (interrupted: the workspace stays marked as deleting; run loggraph workspace delete %s again to finish)", err, ws.Slug)
	}
	fmt.Fprintf(stdout, "deleted workspace %s\n", ws.Slug)
	return nil
}

func cmdLogs(ctx context.Context, args []string, env envReader, stdout, stderr io.Writer) error {
	fs, dbURL := newFlags("logs", env, stderr)
	slug := fs.String("workspace", "", "workspace slug")
	kindName := fs.String("kind", "", "the log kind: app, api-request, integration, action or api-reference")
	query := fs.String("filter", "", "the kind's filter as the query string of GET /v1/export/{kind}, e.g. 'services=auth&time.to=2026-01-01T00:00:00Z'")
	dryRun := fs.Bool("dry-run", false, "count what would be deleted, delete nothing")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "delete" {
		return usagef("usage: loggraph logs delete --workspace SLUG --kind K --filter QUERY [--dry-run]")
	}
	kind, err := parseKind(*kindName)
	if err != nil {
		return err
	}
	if strings.TrimSpace(*query) == "" {
		return usagef("--filter is required (to delete all of a kind, set a retention or delete the workspace)")
	}
	q, err := url.ParseQuery(*query)
	if err != nil {
		return usagef("--filter: %v", err)
	}
	filter, err := rest.ExportFilter(kind, q)
	if err != nil {
		return usagef("--filter: %v", err)
	}
	d, err := openMigrated(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer d.Close()
	ws, err := workspaceBySlug(ctx, d, *slug)
	if err != nil {
		return err
	}
	kd, err := db.NewLifecycle(d).DeleteLogs(ctx, ws.ID, kind, filter, db.DeleteOptions{DryRun: *dryRun})
	var inputErr *model.InputError
	if errors.As(err, &inputErr) {
		return usagef("--filter: %s", inputErr.Msg)
	}
	if kd != nil {
		printDeletion(stdout, &db.DeletionReport{DryRun: *dryRun, Kinds: []db.KindDeletion{*kd}})
	}
	return err
}
