package db

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/loggraph/loggraph/model"
)

// SeedOptions says how much synthetic data Seed writes and where in time it lands.
type SeedOptions struct {
	Rows int       // total log rows across the five kinds
	Days int       // spread over the last Days days up to Now (default 7)
	Now  time.Time // zero = time.Now()
	Seed int64     // PRNG seed (0 = fixed default, so runs are reproducible)
}

// SeedResult counts rows written per kind.
type SeedResult struct {
	Rows     map[model.LogKind]int
	Duration time.Duration
}

// seedDefault makes SeedOptions{Seed: 0} reproducible rather than time-dependent.
const seedDefault = 20261123

// Seed writes synthetic, realistic logs of all five kinds into workspace ws with COPY
// streams that run concurrently on separate connections and generate each row as it
// is sent, so that memory stays flat however many rows are asked for.
//
// The same options give the same content (times, levels, messages, codes); row ids
// are drawn from a per-run salt, so seeding twice, even with the same Now, adds rows
// instead of colliding. Entities have ids derived from the workspace and their names
// and are inserted with ON CONFLICT DO NOTHING, so a second run reuses them. Each
// stream commits on its own: after an error, rows of other streams may remain.
func Seed(ctx context.Context, d *DB, parts *Partitions, ws uuid.UUID, opts SeedOptions) (SeedResult, error) {
	began := time.Now()
	if opts.Rows < 0 {
		return SeedResult{}, fmt.Errorf("seed: rows must not be negative, got %d", opts.Rows)
	}
	if opts.Days < 0 {
		return SeedResult{}, fmt.Errorf("seed: days must not be negative, got %d", opts.Days)
	}
	days := opts.Days
	if days == 0 {
		days = 7
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	// Postgres keeps microseconds; generating at that precision makes stored times
	// equal to generated ones.
	now = now.UTC().Truncate(time.Microsecond)
	seed := uint64(opts.Seed)
	if seed == 0 {
		seed = seedDefault
	}
	counts := seedSplit(opts.Rows)
	res := SeedResult{Rows: make(map[model.LogKind]int, len(model.AllKinds))}
	for _, k := range model.AllKinds {
		res.Rows[k] = 0
	}
	if opts.Rows == 0 {
		res.Duration = time.Since(began)
		return res, nil
	}
	if err := parts.EnsureAhead(ctx, now, days, 0); err != nil {
		return SeedResult{}, fmt.Errorf("seed: %w", err)
	}
	ents, err := seedEntities(ctx, d, ws, now.Add(-time.Duration(days)*day))
	if err != nil {
		return SeedResult{}, err
	}
	var salt [16]byte
	if _, err := crand.Read(salt[:]); err != nil {
		return SeedResult{}, fmt.Errorf("seed: id salt: %w", err)
	}
	sp := seedPlan{
		d: d, ws: [16]byte(ws), ents: ents, seed: seed,
		salt:  [2]uint64{binary.LittleEndian.Uint64(salt[:8]), binary.LittleEndian.Uint64(salt[8:])},
		start: now.Add(-time.Duration(days) * day), hours: days * 24,
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	run := func(kind model.LogKind, stream func(context.Context, pgx.Tx) (int64, error)) {
		wg.Go(func() {
			n, err := sp.inTx(ctx, stream)
			mu.Lock()
			defer mu.Unlock()
			res.Rows[kind] += int(n)
			if err != nil {
				cancel(fmt.Errorf("seed %s: %w", kind.Table(), err))
			}
		})
	}
	// App logs are the largest share and carry a trigram index, so they are split
	// into time slices that COPY in parallel; the biggest streams start first.
	const appStreams = 2
	for s := range appStreams {
		run(model.KindApp, func(ctx context.Context, tx pgx.Tx) (int64, error) {
			return sp.copyApp(ctx, tx, counts[model.KindApp], s, appStreams)
		})
	}
	run(model.KindAPIRequest, func(ctx context.Context, tx pgx.Tx) (int64, error) {
		return sp.copyAPIRequests(ctx, tx, counts[model.KindAPIRequest])
	})
	run(model.KindIntegration, func(ctx context.Context, tx pgx.Tx) (int64, error) {
		return sp.copyIntegrations(ctx, tx, counts[model.KindIntegration])
	})
	run(model.KindAction, func(ctx context.Context, tx pgx.Tx) (int64, error) {
		return sp.copyActions(ctx, tx, counts[model.KindAction])
	})
	run(model.KindAPIReference, func(ctx context.Context, tx pgx.Tx) (int64, error) {
		return sp.copyAPIReferences(ctx, tx, counts[model.KindAPIReference])
	})
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return res, err
	}
	// COPY bypassed the ingest path, which keeps log_counts; recount the workspace.
	if err := RebuildCounts(ctx, d, ws); err != nil {
		return res, err
	}
	// COPY leaves the planner's statistics as they were (nothing yet for a new
	// workspace or day): analyze what was written, as a bulk load should.
	if err := analyzeTables(ctx, d, 0, seedTables()...); err != nil {
		return res, fmt.Errorf("seed: analyze: %w", err)
	}
	res.Duration = time.Since(began)
	return res, nil
}

// seedTables are the tables Seed writes: the log tables (each ANALYZE of a parent
// covers its partitions) and the entities.
func seedTables() []string {
	t := []string{"integrations", "integration_jobs", "api_collections", "api_clients", "api_references", "log_counts", "log_rollups", "log_pattern_rollups"}
	for _, k := range model.AllKinds {
		t = append(t, k.Table())
	}
	return t
}

// seedSplit shares rows among the kinds (app 40%, api request 30%, integration 15%,
// action 10%, api reference 5%), giving every kind a row once there are five.
func seedSplit(rows int) map[model.LogKind]int {
	c := map[model.LogKind]int{
		model.KindAPIRequest:   rows * 30 / 100,
		model.KindIntegration:  rows * 15 / 100,
		model.KindAction:       rows * 10 / 100,
		model.KindAPIReference: rows * 5 / 100,
	}
	rest := rows
	for k, n := range c {
		if n == 0 && rows >= 5 {
			c[k] = 1
		}
		rest -= c[k]
	}
	c[model.KindApp] = rest
	return c
}

// seedPlan is what every kind's stream shares.
type seedPlan struct {
	d     *DB
	ws    [16]byte // bare, as in seedV7
	ents  *seedEnts
	seed  uint64
	salt  [2]uint64 // per-run randomness for ids only
	start time.Time // first bucket's start: Now - Days
	hours int       // hour buckets between start and Now
}

// rng returns the content PRNG of one stream: fixed per (seed, stream) so that the
// data do not depend on goroutine scheduling.
func (p *seedPlan) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(p.seed, stream))
}

// idRng returns the id PRNG of one stream, salted per run.
func (p *seedPlan) idRng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(p.salt[0]^stream*0x9e3779b97f4a7c15, p.salt[1]+stream))
}

// inTx runs one stream in its own transaction, so that a stream is all or nothing.
func (p *seedPlan) inTx(ctx context.Context, stream func(context.Context, pgx.Tx) (int64, error)) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, p.d.Pool, func(tx pgx.Tx) error {
		// A server's pool has a statement timeout for interactive queries; a bulk
		// COPY of millions of rows may rightly outlast it.
		if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
			return err
		}
		var err error
		n, err = stream(ctx, tx)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (p *seedPlan) copy(ctx context.Context, tx pgx.Tx, table string, cols []string, src pgx.CopyFromSource) (int64, error) {
	n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, src)
	if err != nil {
		return 0, fmt.Errorf("copy: %w", err)
	}
	return n, nil
}

// seedV7 makes a UUIDv7 whose timestamp is the row's own time, so that ids sort like
// the rows and the (workspace_id, id) indexes are filled almost in order.
//
// It returns the bare array: uuid.UUID implements driver.Valuer, which would make pgx
// format every id as text and parse it back.
func seedV7(t time.Time, r *rand.Rand) [16]byte {
	var u [16]byte
	ms := uint64(t.UnixMilli())
	binary.BigEndian.PutUint64(u[:8], ms<<16|r.Uint64()&0xffff)
	binary.BigEndian.PutUint64(u[8:], r.Uint64())
	u[6] = 0x70 | u[6]&0x0f
	u[8] = 0x80 | u[8]&0x3f
	return u
}

// --- time ---

// seedClock yields ascending times, hour bucket by hour bucket; each bucket gets a
// share of the kind's rows proportional to its weight (the daily pattern). Any range
// of buckets can be played alone, which is how one kind splits into parallel streams
// that together write exactly the kind's rows.
type seedClock struct {
	r     *rand.Rand
	start time.Time
	cum   []float64 // cum[b]: share of the rows before bucket b
	n     int
	b     int     // next bucket to fill
	cur   int     // bucket of offs
	offs  []int64 // sorted microsecond offsets left in bucket cur
	buf   []int64
}

// newSeedClock spreads n rows over the plan's hours; amp is how much busier working
// hours are than the night.
func (p *seedPlan) newSeedClock(r *rand.Rand, n int, amp float64) *seedClock {
	cum := make([]float64, p.hours+1)
	for b := range p.hours {
		t := p.start.Add(time.Duration(b) * time.Hour)
		h := float64(t.Hour()) + 0.5
		w := 1 + amp*math.Exp(-math.Pow((h-13.5)/3.5, 2))
		if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
			w *= 0.7
		}
		cum[b+1] = cum[b] + w
	}
	for b := range cum {
		cum[b] /= cum[p.hours]
	}
	return &seedClock{r: r, start: p.start, cum: cum, n: n}
}

// share returns the first bucket of the i-th of k slices holding equal shares of rows.
func (c *seedClock) share(i, k int) int {
	b, _ := slices.BinarySearch(c.cum, float64(i)/float64(k))
	return min(b, len(c.cum)-1)
}

func (c *seedClock) before(b int) int { return int(math.Round(float64(c.n) * c.cum[b])) }

// slice limits the clock to buckets [from, to) and returns how many rows they hold.
func (c *seedClock) slice(from, to int) int {
	c.b = from
	c.cum = c.cum[:to+1]
	return c.before(to) - c.before(from)
}

func (c *seedClock) next() time.Time {
	for len(c.offs) == 0 && c.b < len(c.cum)-1 {
		k := c.before(c.b+1) - c.before(c.b)
		c.buf = c.buf[:0]
		for range k {
			c.buf = append(c.buf, c.r.Int64N(int64(time.Hour/time.Microsecond)))
		}
		slices.Sort(c.buf)
		c.offs, c.cur = c.buf, c.b
		c.b++
	}
	if len(c.offs) == 0 { // only when asked for more rows than the clock holds
		return c.start.Add(time.Duration(len(c.cum)-1) * time.Hour).Add(-time.Microsecond)
	}
	o := c.offs[0]
	c.offs = c.offs[1:]
	return c.start.Add(time.Duration(c.cur)*time.Hour + time.Duration(o)*time.Microsecond)
}

// seedRows is a pgx.CopyFromSource that generates each row when COPY asks for it.
type seedRows struct {
	left int
	row  func() ([]any, error)
	vals []any
	err  error
}

func (s *seedRows) Next() bool {
	if s.left <= 0 || s.err != nil {
		return false
	}
	s.left--
	s.vals, s.err = s.row()
	return s.err == nil
}

func (s *seedRows) Values() ([]any, error) { return s.vals, s.err }
func (s *seedRows) Err() error             { return s.err }

// pick returns an index drawn from cumulative weights.
func seedPick(r *rand.Rand, cum []float64) int {
	u := r.Float64() * cum[len(cum)-1]
	i, _ := slices.BinarySearch(cum, u)
	return min(i, len(cum)-1)
}

func seedCum(w ...float64) []float64 {
	c := make([]float64, len(w))
	var s float64
	for i, x := range w {
		s += x
		c[i] = s
	}
	return c
}

// logNormal draws a long-tailed duration around median ms.
func seedLogNormal(r *rand.Rand, median, sigma float64) int {
	return int(median * math.Exp(sigma*r.NormFloat64()))
}

// seedIPv4 draws from 198.18.0.0/15 (RFC 2544, benchmarking): obviously synthetic.
func seedIPv4(r *rand.Rand) netip.Addr {
	x := r.Uint32()
	return netip.AddrFrom4([4]byte{198, 18 + byte(x>>24)&1, byte(x >> 8), byte(x)})
}

// seedIPv6 draws from 2001:db8::/32 (RFC 3849, documentation).
func seedIPv6(r *rand.Rand) netip.Addr {
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	binary.BigEndian.PutUint64(b[8:], r.Uint64()&0xffff_ffff)
	binary.BigEndian.PutUint16(b[4:], uint16(r.IntN(16)))
	return netip.AddrFrom16(b)
}

// --- entities ---

type seedCollection struct {
	name      string
	recipe    bool
	weight    float64
	endpoints []string
	slowness  float64 // timing multiplier: reports and searches are slower
}

// seedCollections are ~8 collections of 5 endpoints each (40 endpoints in all).
var seedCollections = []seedCollection{
	{"Orders API", true, 25, []string{"GET /orders", "GET /orders/{id}", "POST /orders", "PATCH /orders/{id}", "DELETE /orders/{id}"}, 1},
	{"Catalog API", false, 20, []string{"GET /products", "GET /products/{id}", "GET /products/{id}/variants", "GET /categories", "POST /products/search"}, 0.8},
	{"Customers API", false, 15, []string{"GET /customers", "GET /customers/{id}", "POST /customers", "PUT /customers/{id}", "GET /customers/{id}/addresses"}, 1},
	{"Payments Proxy", false, 12, []string{"POST /payments", "GET /payments/{id}", "POST /payments/{id}/capture", "POST /payments/{id}/refund", "GET /payouts"}, 2.5},
	{"Inventory Sync", true, 10, []string{"GET /inventory/{sku}", "POST /inventory/adjustments", "GET /warehouses", "GET /warehouses/{id}/stock", "POST /inventory/sync"}, 1.5},
	{"Shipping Webhooks", true, 8, []string{"POST /shipments", "GET /shipments/{id}", "POST /shipments/{id}/labels", "GET /carriers", "POST /webhooks/carrier"}, 1.2},
	{"Reporting API", true, 5, []string{"GET /reports/sales", "GET /reports/inventory", "POST /reports/export", "GET /reports/{id}", "GET /metrics/daily"}, 6},
	{"HR Onboarding", true, 5, []string{"POST /employees", "GET /employees/{id}", "POST /employees/{id}/accounts", "GET /departments", "POST /onboarding/tasks"}, 2},
}

// seedEndpointWeights makes list and read endpoints busier than writes.
var seedEndpointWeights = seedCum(35, 30, 15, 12, 8)

var seedClients = []string{
	"Web Storefront", "Mobile App (iOS)", "Mobile App (Android)", "Customer Success Team",
	"Partner: Acme Logistics", "Partner: Globex", "Data Warehouse ETL", "Internal Admin Portal",
	"Marketing Automation", "Finance Reconciliation", "QA Automation", "Support Chatbot",
}

var seedClientWeights = seedCum(30, 18, 14, 6, 5, 4, 6, 5, 4, 2, 3, 3)

type seedIntegration struct {
	name    string
	weight  float64
	failure float64 // chance that a first attempt fails
}

var seedIntegrations = []seedIntegration{
	{"Shopify order webhook", 20, 0.06}, {"Salesforce contact sync", 12, 0.10}, {"Slack alerts", 10, 0.03},
	{"Stripe payment events", 12, 0.05}, {"Zendesk tickets", 6, 0.12}, {"HubSpot CRM", 6, 0.15},
	{"NetSuite ERP export", 5, 0.25}, {"Mailchimp audience sync", 4, 0.08}, {"Twilio SMS", 5, 0.07},
	{"PagerDuty incidents", 2, 0.04}, {"Jira issue sync", 3, 0.18}, {"Google Sheets export", 3, 0.20},
	{"SAP order bridge", 5, 0.30}, {"Legacy ERP webhook", 4, 0.55}, {"DHL tracking updates", 3, 0.22},
}

var seedAPIReferences = []string{
	"Orders API v2", "Customers API", "Payments API", "Inventory API", "Catalog API",
	"Shipping API", "Webhooks", "Auth API", "Reporting API", "Partner API",
}

var seedTeamAccounts = []string{
	"Peter Jone", "Alice Martin", "Bob Nguyen", "Carla Rossi", "Dev Patel", "Emma Schulz", "Farid Haddad", "Grace Kim",
}

// seedEnts are the stored entities, by the index of their definition above.
type seedEnts struct {
	collectionIDs []int64
	recipe        []bool // stored type: a collection ingested earlier may differ from ours
	clientIDs     []int64
	integrations  [][16]byte
	refs, users   []string
}

// seedEntityID derives an entity id from the workspace and the entity's name, so a
// second seed of the same workspace finds the same entities.
func seedEntityID(ws uuid.UUID, kind, name string) uuid.UUID {
	return uuid.NewSHA1(ws, []byte(kind+":"+name))
}

func seedEntities(ctx context.Context, d *DB, ws uuid.UUID, since time.Time) (*seedEnts, error) {
	e := &seedEnts{}
	var colNames, colTypes []string
	for _, c := range seedCollections {
		colNames = append(colNames, c.name)
		typ := model.CollectionProxy
		if c.recipe {
			typ = model.CollectionRecipe
		}
		colTypes = append(colTypes, string(typ))
	}
	var integIDs []uuid.UUID
	var integNames []string
	for _, in := range seedIntegrations {
		integIDs = append(integIDs, seedEntityID(ws, "integration", in.name))
		integNames = append(integNames, in.name)
	}
	for _, n := range seedAPIReferences {
		e.refs = append(e.refs, seedEntityID(ws, "api-reference", n).String())
	}
	for _, n := range seedTeamAccounts {
		e.users = append(e.users, seedEntityID(ws, "team-account", n).String())
	}
	for _, id := range integIDs {
		e.integrations = append(e.integrations, id)
	}
	err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		stmts := []struct {
			what string
			sql  string
			args []any
		}{
			{"collections", `INSERT INTO api_collections (workspace_id, name, type)
				SELECT $1, u.name, u.type FROM unnest($2::text[], $3::text[]) AS u(name, type)
				ON CONFLICT (workspace_id, name) DO NOTHING`, []any{ws, colNames, colTypes}},
			{"clients", `INSERT INTO api_clients (workspace_id, name) SELECT $1, unnest($2::text[])
				ON CONFLICT (workspace_id, name) DO NOTHING`, []any{ws, seedClients}},
			{"integrations", `INSERT INTO integrations (workspace_id, id, name, created_at)
				SELECT $1, u.id, u.name, $4 FROM unnest($2::uuid[], $3::text[]) AS u(id, name)
				ON CONFLICT (workspace_id, id) DO NOTHING`, []any{ws, integIDs, integNames, since}},
			{"api references", `INSERT INTO api_references (workspace_id, id, name)
				SELECT $1, u.id, u.name FROM unnest($2::text[], $3::text[]) AS u(id, name)
				ON CONFLICT (workspace_id, id) DO NOTHING`, []any{ws, e.refs, seedAPIReferences}},
			{"team accounts", `INSERT INTO team_accounts (workspace_id, id, name)
				SELECT $1, u.id, u.name FROM unnest($2::text[], $3::text[]) AS u(id, name)
				ON CONFLICT (workspace_id, id) DO NOTHING`, []any{ws, e.users, seedTeamAccounts}},
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s.sql, s.args...); err != nil {
				return fmt.Errorf("upsert %s: %w", s.what, err)
			}
		}
		rows, err := tx.Query(ctx, `SELECT name, id, type FROM api_collections WHERE workspace_id = $1 AND name = ANY($2)`, ws, colNames)
		if err != nil {
			return fmt.Errorf("select collections: %w", err)
		}
		type col struct {
			id  int64
			typ string
		}
		cols := make(map[string]col)
		for rows.Next() {
			var name string
			var c col
			if err := rows.Scan(&name, &c.id, &c.typ); err != nil {
				rows.Close()
				return fmt.Errorf("select collections: %w", err)
			}
			cols[name] = c
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("select collections: %w", err)
		}
		for _, n := range colNames {
			c, ok := cols[n]
			if !ok {
				return fmt.Errorf("collection %q missing after upsert", n)
			}
			e.collectionIDs = append(e.collectionIDs, c.id)
			e.recipe = append(e.recipe, c.typ == string(model.CollectionRecipe))
		}
		clients, err := selectIDsByName(ctx, tx, "api_clients", ws, seedClients, nil)
		if err != nil {
			return err
		}
		for _, n := range seedClients {
			id, ok := clients[n]
			if !ok {
				return fmt.Errorf("client %q missing after upsert", n)
			}
			e.clientIDs = append(e.clientIDs, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("seed entities: %w", err)
	}
	return e, nil
}

// --- app logs ---

// seedAppGen generates app logs; templates write the message and details into its
// buffers, which COPY encodes before asking for the next row.
type seedAppGen struct {
	r   *rand.Rand
	msg []byte
	det []byte
}

type seedAppTemplate struct {
	level   model.Severity
	service string
	fill    func(g *seedAppGen)
}

func (g *seedAppGen) msgf(format string, args ...any) {
	g.msg = fmt.Appendf(g.msg[:0], format, args...)
}

// Details are built by hand, far cheaper than encoding/json for a million rows.
func (g *seedAppGen) detail(key string, v any) {
	if len(g.det) == 0 {
		g.det = append(g.det, '{')
	} else {
		g.det = append(g.det, ',')
	}
	g.det = seedAppendJSON(g.det, key)
	g.det = append(g.det, ':')
	switch v := v.(type) {
	case int:
		g.det = strconv.AppendInt(g.det, int64(v), 10)
	case bool:
		g.det = strconv.AppendBool(g.det, v)
	case string:
		g.det = seedAppendJSON(g.det, v)
	case netip.Addr:
		g.det = append(g.det, '"')
		g.det = v.AppendTo(g.det)
		g.det = append(g.det, '"')
	}
}

// seedAppendJSON quotes s as a JSON string.
func seedAppendJSON(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

var (
	seedFirstNames = []string{"anna", "ben", "chloe", "david", "elena", "felix", "gina", "hugo", "ines", "jonas", "karla", "liam", "maya", "noah", "olga", "paul"}
	seedLastNames  = []string{"smith", "muller", "garcia", "rossi", "kowalski", "jensen", "dubois", "silva", "novak", "ito"}
	seedDomains    = []string{"example.com", "example.org", "example.net", "mail.example.com"}
	seedWarehouses = []string{"AMS-1", "BER-2", "LYS-1", "MAD-3", "WAW-1"}
	seedCarriers   = []string{"DHL", "UPS", "FedEx", "GLS", "PostNL"}
	seedStates     = []string{"pending", "paid", "allocated", "picking", "packed", "shipped", "delivered", "cancelled"}
	seedTerms      = []string{"running shoes", "wireless headphones", "coffee grinder", "usb-c cable", "yoga mat", "desk lamp", "winter jacket", "phone case"}
	seedUserAgents = []string{"Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)", "PostmanRuntime/7.28.0", "okhttp/4.12.0", "python-requests/2.31.0"}
	seedDeclines   = []string{"insufficient_funds", "card_expired", "do_not_honor", "fraud_suspected", "invalid_cvc"}
	seedMailTpls   = []string{"order_confirmation", "shipping_update", "password_reset", "welcome", "invoice"}
)

func (g *seedAppGen) userID() int  { return 10000 + g.r.IntN(90000) }
func (g *seedAppGen) orderID() int { return 1_000_000 + g.r.IntN(9_000_000) }
func (g *seedAppGen) sku() int     { return 1 + g.r.IntN(40000) }
func (g *seedAppGen) ms(median float64) int {
	return max(1, seedLogNormal(g.r, median, 1))
}
func (g *seedAppGen) email() string {
	return fmt.Sprintf("%s.%s%d@%s", seedFirstNames[g.r.IntN(len(seedFirstNames))],
		seedLastNames[g.r.IntN(len(seedLastNames))], g.r.IntN(100), seedDomains[g.r.IntN(len(seedDomains))])
}
func (g *seedAppGen) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.r.IntN(16)]
	}
	return string(b)
}
func seedOneOf[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// seedAppTemplates are ~40 message shapes of ~10 services; the variable parts (ids,
// durations, emails, IPs, quoted terms) are what pattern grouping masks.
var seedAppTemplates = []seedAppTemplate{
	// DEBUG
	{model.SeverityDebug, "order-service", func(g *seedAppGen) {
		id := g.orderID()
		g.msgf("Cache miss for key order:%d, loading from database", id)
		g.detail("order_id", id)
		g.detail("cache", "redis")
	}},
	{model.SeverityDebug, "search", func(g *seedAppGen) {
		ms, terms := g.ms(4), 1+g.r.IntN(6)
		g.msgf("Query parsed in %dms: %d terms", ms, terms)
		g.detail("duration_ms", ms)
		g.detail("terms", terms)
	}},
	{model.SeverityDebug, "user-service", func(g *seedAppGen) {
		u := g.userID()
		g.msgf("Loaded profile for user_id %d from cache", u)
		g.detail("user_id", u)
	}},
	{model.SeverityDebug, "inventory", func(g *seedAppGen) {
		sku, q, wh := g.sku(), g.r.IntN(500), seedOneOf(g.r, seedWarehouses)
		g.msgf("Stock snapshot for SKU-%05d at %s: %d units", sku, wh, q)
		g.detail("sku", fmt.Sprintf("SKU-%05d", sku))
		g.detail("quantity", q)
		g.detail("warehouse", wh)
	}},
	{model.SeverityDebug, "auth", func(g *seedAppGen) {
		s := g.hex(16)
		g.msgf("Token refresh scheduled for session %s", s)
		g.detail("session_id", s)
	}},
	{model.SeverityDebug, "api-gateway", func(g *seedAppGen) {
		id, ip := g.orderID(), seedIPv4(g.r)
		g.msgf("Routing GET /orders/%d to order-service at %s", id, ip)
		g.detail("order_id", id)
		g.detail("upstream_ip", ip)
	}},
	// INFO
	{model.SeverityInfo, "user-service", func(g *seedAppGen) {
		u, ip := g.userID(), seedIPv4(g.r)
		g.msgf("User %d logged in from %s", u, ip)
		g.detail("user_id", u)
		g.detail("ip_address", ip)
		g.detail("duration_ms", g.ms(35))
	}},
	{model.SeverityInfo, "user-service", func(g *seedAppGen) {
		u, e := g.userID(), g.email()
		g.msgf("Password reset email requested for %s", e)
		g.detail("user_id", u)
		g.detail("email", e)
	}},
	{model.SeverityInfo, "user-service", func(g *seedAppGen) {
		u := g.userID()
		g.msgf("User %d updated profile settings", u)
		g.detail("user_id", u)
		g.detail("fields", 1+g.r.IntN(4))
	}},
	{model.SeverityInfo, "auth", func(g *seedAppGen) {
		c, ttl := seedOneOf(g.r, seedClients), 900*(1+g.r.IntN(4))
		g.msgf("Issued access token for client '%s' (expires in %ds)", c, ttl)
		g.detail("client", c)
		g.detail("ttl_s", ttl)
	}},
	{model.SeverityInfo, "auth", func(g *seedAppGen) {
		u := g.userID()
		g.msgf("User %d logged out", u)
		g.detail("user_id", u)
	}},
	{model.SeverityInfo, "payment-gateway", func(g *seedAppGen) {
		p, o, cents := "pay_"+g.hex(14), g.orderID(), 500+g.r.IntN(50000)
		g.msgf("Payment %s authorized for order %d: %d.%02d EUR", p, o, cents/100, cents%100)
		g.detail("payment_id", p)
		g.detail("order_id", o)
		g.detail("amount_cents", cents)
		g.detail("duration_ms", g.ms(180))
	}},
	{model.SeverityInfo, "payment-gateway", func(g *seedAppGen) {
		p, o := "re_"+g.hex(14), g.orderID()
		g.msgf("Refund %s completed for order %d", p, o)
		g.detail("refund_id", p)
		g.detail("order_id", o)
	}},
	{model.SeverityInfo, "order-service", func(g *seedAppGen) {
		o, u, n, ms := g.orderID(), g.userID(), 1+g.r.IntN(8), g.ms(60)
		g.msgf("Order %d created by user %d with %d items in %dms", o, u, n, ms)
		g.detail("order_id", o)
		g.detail("user_id", u)
		g.detail("items", n)
		g.detail("duration_ms", ms)
	}},
	{model.SeverityInfo, "order-service", func(g *seedAppGen) {
		o, s := g.orderID(), g.r.IntN(len(seedStates)-1)
		g.msgf("Order %d status changed from %s to %s", o, seedStates[s], seedStates[s+1])
		g.detail("order_id", o)
		g.detail("from", seedStates[s])
		g.detail("to", seedStates[s+1])
	}},
	{model.SeverityInfo, "inventory", func(g *seedAppGen) {
		q, sku, o := 1+g.r.IntN(5), g.sku(), g.orderID()
		g.msgf("Reserved %d units of SKU-%05d for order %d", q, sku, o)
		g.detail("order_id", o)
		g.detail("quantity", q)
	}},
	{model.SeverityInfo, "notification", func(g *seedAppGen) {
		e, t, ms := g.email(), seedOneOf(g.r, seedMailTpls), g.ms(120)
		g.msgf("Email sent to %s (template=%s) in %dms", e, t, ms)
		g.detail("email", e)
		g.detail("template", t)
		g.detail("duration_ms", ms)
	}},
	{model.SeverityInfo, "notification", func(g *seedAppGen) {
		dev, ms := g.hex(12), g.ms(80)
		g.msgf("Push notification delivered to device %s in %dms", dev, ms)
		g.detail("device_id", dev)
		g.detail("duration_ms", ms)
	}},
	{model.SeverityInfo, "search", func(g *seedAppGen) {
		q, n, ms := seedOneOf(g.r, seedTerms), g.r.IntN(2000), g.ms(45)
		g.msgf("Search for \"%s\" returned %d results in %dms", q, n, ms)
		g.detail("query", q)
		g.detail("results", n)
		g.detail("duration_ms", ms)
	}},
	{model.SeverityInfo, "shipping", func(g *seedAppGen) {
		s, c, tr := g.r.IntN(9_000_000), seedOneOf(g.r, seedCarriers), "1Z"+g.hex(16)
		g.msgf("Shipment %d dispatched via %s, tracking %s", s, c, tr)
		g.detail("shipment_id", s)
		g.detail("carrier", c)
		g.detail("tracking", tr)
	}},
	{model.SeverityInfo, "catalog", func(g *seedAppGen) {
		p := 1 + g.r.IntN(20000)
		g.msgf("Product with ID %d retrieved successfully.", p)
		g.detail("product_id", p)
		g.detail("user_agent", seedOneOf(g.r, seedUserAgents))
	}},
	{model.SeverityInfo, "api-gateway", func(g *seedAppGen) {
		p, ms, ip := 1+g.r.IntN(20000), g.ms(30), seedIPv4(g.r)
		g.msgf("Request completed: GET /products/%d 200 in %dms", p, ms)
		g.detail("duration_ms", ms)
		g.detail("ip_address", ip)
	}},
	// WARN
	{model.SeverityWarn, "payment-gateway", func(g *seedAppGen) {
		ms, p := 1500+g.ms(800), "pay_"+g.hex(14)
		g.msgf("Payment provider latency high: %dms for payment %s", ms, p)
		g.detail("payment_id", p)
		g.detail("duration_ms", ms)
	}},
	{model.SeverityWarn, "inventory", func(g *seedAppGen) {
		sku, q := g.sku(), g.r.IntN(10)
		g.msgf("Low stock for SKU-%05d: %d units left", sku, q)
		g.detail("quantity", q)
		g.detail("warehouse", seedOneOf(g.r, seedWarehouses))
	}},
	{model.SeverityWarn, "auth", func(g *seedAppGen) {
		n, e, ip := 1+g.r.IntN(5), g.email(), seedIPv4(g.r)
		g.msgf("Failed login attempt %d/5 for %s from %s", n, e, ip)
		g.detail("email", e)
		g.detail("ip_address", ip)
		g.detail("attempt", n)
	}},
	{model.SeverityWarn, "order-service", func(g *seedAppGen) {
		ms := 500 + g.ms(400)
		g.msgf("Slow query on orders table took %dms", ms)
		g.detail("duration_ms", ms)
		g.detail("rows", g.r.IntN(50000))
	}},
	{model.SeverityWarn, "notification", func(g *seedAppGen) {
		e, s := g.email(), 60*(1+g.r.IntN(15))
		g.msgf("Email to %s deferred: mailbox full, retry in %ds", e, s)
		g.detail("email", e)
		g.detail("retry_s", s)
	}},
	{model.SeverityWarn, "search", func(g *seedAppGen) {
		s := 5 + g.r.IntN(300)
		g.msgf("Search index lag is %ds behind primary", s)
		g.detail("lag_s", s)
	}},
	{model.SeverityWarn, "api-gateway", func(g *seedAppGen) {
		c, used := seedOneOf(g.r, seedClients), 900+g.r.IntN(100)
		g.msgf("Rate limit approaching for client '%s': %d/1000 requests", c, used)
		g.detail("client", c)
		g.detail("used", used)
	}},
	{model.SeverityWarn, "user-service", func(g *seedAppGen) {
		c, ip := seedOneOf(g.r, seedClients), seedIPv4(g.r)
		g.msgf("Deprecated API version v1 used by client '%s' from %s", c, ip)
		g.detail("client", c)
		g.detail("ip_address", ip)
	}},
	// ERROR
	{model.SeverityError, "user-service", func(g *seedAppGen) {
		u, ip := g.userID(), seedIPv4(g.r)
		g.msgf("Failed to authenticate user: invalid credentials for user_id %d", u)
		g.detail("user_id", u)
		g.detail("ip_address", ip)
	}},
	{model.SeverityError, "payment-gateway", func(g *seedAppGen) {
		p, o, why := "pay_"+g.hex(14), g.orderID(), seedOneOf(g.r, seedDeclines)
		g.msgf("Payment %s declined for order %d: %s", p, o, why)
		g.detail("payment_id", p)
		g.detail("order_id", o)
		g.detail("reason", why)
	}},
	{model.SeverityError, "order-service", func(g *seedAppGen) {
		u, ms := g.userID(), 5000+g.r.IntN(5000)
		g.msgf("Failed to create order for user %d: inventory reservation timed out after %dms", u, ms)
		g.detail("user_id", u)
		g.detail("duration_ms", ms)
	}},
	{model.SeverityError, "inventory", func(g *seedAppGen) {
		wh, ip := seedOneOf(g.r, seedWarehouses), seedIPv4(g.r)
		g.msgf("Stock sync with warehouse %s failed: connection refused (%s:5432)", wh, ip)
		g.detail("warehouse", wh)
		g.detail("ip_address", ip)
	}},
	{model.SeverityError, "notification", func(g *seedAppGen) {
		e := g.email()
		g.msgf("SMTP delivery to %s failed: 550 mailbox unavailable", e)
		g.detail("email", e)
		g.detail("smtp_code", 550)
	}},
	{model.SeverityError, "shipping", func(g *seedAppGen) {
		c, s := seedOneOf(g.r, seedCarriers), g.r.IntN(9_000_000)
		g.msgf("Carrier API %s returned 503 for shipment %d", c, s)
		g.detail("carrier", c)
		g.detail("shipment_id", s)
	}},
	{model.SeverityError, "search", func(g *seedAppGen) {
		ms := 1000 + g.ms(1500)
		g.msgf("Search backend query failed after %dms: circuit breaker open", ms)
		g.detail("duration_ms", ms)
	}},
	{model.SeverityError, "auth", func(g *seedAppGen) {
		c := seedOneOf(g.r, seedClients)
		g.msgf("JWT signature verification failed for token issued to '%s'", c)
		g.detail("client", c)
		g.detail("kid", g.hex(8))
	}},
	// FATAL
	{model.SeverityFatal, "order-service", func(g *seedAppGen) {
		w := 1 + g.r.IntN(16)
		g.msgf("Database connection pool exhausted (50/50), shutting down worker %d", w)
		g.detail("worker", w)
	}},
	{model.SeverityFatal, "payment-gateway", func(g *seedAppGen) {
		g.msgf("Unable to load signing key from vault: permission denied, exiting")
		g.detail("vault_path", "secret/payment-gateway/signing")
	}},
	{model.SeverityFatal, "inventory", func(g *seedAppGen) {
		mb := 2048 + g.r.IntN(2048)
		g.msgf("Out of memory while rebuilding stock index (%d MB), process terminated", mb)
		g.detail("heap_mb", mb)
	}},
}

// seedAppLevelWeights: DEBUG 15%, INFO 60%, WARN 15%, ERROR 9%, FATAL 1%.
var seedAppLevelWeights = seedCum(15, 60, 15, 9, 1)

// seedAppByLevel indexes seedAppTemplates by severity.
var seedAppByLevel = func() [6][]int {
	var by [6][]int
	for i, t := range seedAppTemplates {
		by[t.level] = append(by[t.level], i)
	}
	return by
}()

func (p *seedPlan) copyApp(ctx context.Context, tx pgx.Tx, n, stream, streams int) (int64, error) {
	r := p.rng(uint64(100 + stream))
	ids := p.idRng(uint64(100 + stream))
	clock := p.newSeedClock(r, n, 1.5)
	rows := clock.slice(clock.share(stream, streams), clock.share(stream+1, streams))
	g := &seedAppGen{r: r}
	vals := make([]any, 7)
	src := &seedRows{left: rows, row: func() ([]any, error) {
		t := clock.next()
		lvl := model.Severity(1 + seedPick(r, seedAppLevelWeights))
		byLvl := seedAppByLevel[lvl]
		tpl := &seedAppTemplates[byLvl[r.IntN(len(byLvl))]]
		g.det = g.det[:0]
		tpl.fill(g)
		vals[0], vals[1], vals[2], vals[3], vals[4], vals[5] = p.ws, seedV7(t, ids), t, int16(lvl), tpl.service, string(g.msg)
		vals[6] = nil
		if r.IntN(10) != 0 { // most rows carry details, not all
			g.det = append(g.det, '}')
			vals[6] = g.det
		}
		return vals, nil
	}}
	return p.copy(ctx, tx, "app_logs", []string{"workspace_id", "id", "timestamp", "level", "service", "message", "details"}, src)
}

// --- api request logs ---

// Gateway codes and their status details are synthetic: seed 003 names 4011, 4012,
// "Missing token", "Unrecognized token" and "Recipe is inactive"; the pairing and the
// others are made up to look alike.
const (
	seedGwMissingToken      = 4011
	seedGwUnrecognizedToken = 4012
	seedGwForbidden         = 4031
	seedGwRecipeInactive    = 4041
	seedGwRateLimited       = 4291
)

var (
	seed4xx        = []int16{401, 403, 404, 422, 429}
	seed4xxWeights = seedCum(30, 10, 30, 20, 10)
	seed5xx        = []int16{500, 502, 503, 504}
	seed5xxWeights = seedCum(40, 25, 20, 15)
)

func (p *seedPlan) copyAPIRequests(ctx context.Context, tx pgx.Tx, n int) (int64, error) {
	r := p.rng(200)
	ids := p.idRng(200)
	clock := p.newSeedClock(r, n, 1.5)
	var colWeights []float64
	for _, c := range seedCollections {
		colWeights = append(colWeights, c.weight)
	}
	colCum := seedCum(colWeights...)
	// Each client calls from a few fixed addresses, one of them IPv6 for some, so
	// that IP facets show something.
	clientIPs := make([][]netip.Addr, len(seedClients))
	ipr := p.rng(201)
	for i := range clientIPs {
		for range 3 {
			clientIPs[i] = append(clientIPs[i], seedIPv4(ipr))
		}
		if i%3 == 1 {
			clientIPs[i] = append(clientIPs[i], seedIPv6(ipr))
		}
	}
	details := map[int32]string{
		seedGwMissingToken: "Missing token", seedGwUnrecognizedToken: "Unrecognized token", seedGwForbidden: "Client has no access to this collection",
		seedGwRecipeInactive: "Recipe is inactive", seedGwRateLimited: "Rate limit exceeded",
	}
	jobID := int64(40_000_000)
	vals := make([]any, 13)
	src := &seedRows{left: n, row: func() ([]any, error) {
		t := clock.next()
		ci := seedPick(r, colCum)
		col := &seedCollections[ci]
		recipe := p.ents.recipe[ci]
		ei := seedPick(r, seedEndpointWeights)
		endpoint := col.endpoints[ei]
		client := seedPick(r, seedClientWeights)
		hasClient := r.IntN(100) >= 3
		var code int16
		var gw int32
		switch u := r.IntN(100); {
		case u < 88:
			switch endpoint[0] {
			case 'P':
				if endpoint[1] == 'O' && r.IntN(5) != 0 {
					code = 201
				} else {
					code = 200
				}
			case 'D':
				code = 204
			default:
				code = 200
			}
		case u < 97:
			code = seed4xx[seedPick(r, seed4xxWeights)]
			switch {
			case code == 401 && r.IntN(2) == 0:
				hasClient, gw = false, seedGwMissingToken
			case code == 401 && r.IntN(3) != 0:
				gw = seedGwUnrecognizedToken
			case code == 403 && r.IntN(2) == 0:
				gw = seedGwForbidden
			case code == 404 && recipe && r.IntN(3) == 0:
				gw = seedGwRecipeInactive
			case code == 429 && r.IntN(2) == 0:
				gw = seedGwRateLimited
			}
		default:
			code = seed5xx[seedPick(r, seed5xxWeights)]
		}
		var timing int
		switch {
		case code == 401 || code == 403 || code == 429 || gw != 0:
			timing = seedLogNormal(r, 3, 0.6) // rejected at the gateway
		case code == 504:
			timing = 30000 + r.IntN(500)
		case code >= 500:
			timing = seedLogNormal(r, 250, 1.2)
		default:
			timing = seedLogNormal(r, 25*col.slowness*(1+0.25*float64(ei)), 1.4)
		}
		timing = min(timing, 120000)
		delay := int32(r.ExpFloat64() * 2)
		if r.IntN(100) == 0 {
			delay += int32(50 + r.IntN(450))
		}
		var ip netip.Addr
		switch u := r.IntN(100); {
		case u < 6:
			ip = seedIPv6(r)
		case u < 75 && hasClient:
			ip = seedOneOf(r, clientIPs[client])
		default:
			ip = seedIPv4(r)
		}
		vals[0], vals[1], vals[2], vals[3] = p.ws, seedV7(t, ids), t, code
		vals[4], vals[5] = nil, nil
		if gw != 0 {
			vals[4], vals[5] = gw, details[gw]
		}
		vals[6], vals[7], vals[8], vals[9] = ip, int32(timing), delay, p.ents.collectionIDs[ci]
		vals[10] = nil
		if hasClient {
			vals[10] = p.ents.clientIDs[client]
		}
		vals[11], vals[12] = endpoint, nil
		if recipe && code < 300 && r.IntN(10) < 7 {
			jobID += 1 + int64(r.IntN(40))
			vals[12] = fmt.Sprintf("https://automation.example.com/recipes/%d/jobs/%d", 310_000+ci*100+ei, jobID)
		}
		return vals, nil
	}}
	return p.copy(ctx, tx, "api_request_logs", []string{"workspace_id", "id", "received_at", "code", "gateway_code", "status_details", "ip",
		"timing_ms", "delay_ms", "collection_id", "client_id", "endpoint", "job_url"}, src)
}

// --- integration logs ---

// seedJob is one integration job; its attempts become its logs.
type seedJob struct {
	id       [16]byte
	at       time.Time // of the first attempt
	integ    uint8
	attempts uint8
	ok       bool // the last attempt succeeded
}

const maxSeedAttempts = 5

var (
	seedFailCodes   = []int16{404, 500, 502, 503, 0}
	seedFailWeights = seedCum(15, 30, 20, 20, 15)
	seedFailBodies  = map[int16]string{404: "Not Found", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
	seedOKCodes     = []int16{200, 200, 200, 201, 202, 204}
	seedOKBodies    = []string{"OK", `{"status":"ok"}`, `{"received":true}`, "Accepted", ""}
	seedIntegCum    = func() []float64 {
		var w []float64
		for _, in := range seedIntegrations {
			w = append(w, in.weight)
		}
		return seedCum(w...)
	}()
)

const seedNon2xx = "Received a status code outside of 2xx range - treating webhook as a fail"

// seedJobs plays the plan of integration jobs whose attempts add up to n logs. The
// plan is a function of the PRNG states, so it is played again rather than held in
// memory: once to count the jobs, once for integration_jobs, once for the logs.
type seedJobs struct {
	r, ids *rand.Rand
	clock  *seedClock // nil while counting
	left   int        // attempts still to plan
}

func (p *seedPlan) jobPlan(n, jobs int) *seedJobs {
	j := &seedJobs{r: p.rng(300), ids: p.idRng(300), left: n}
	if jobs > 0 {
		j.clock = p.newSeedClock(p.rng(302), jobs, 0.8)
	}
	return j
}

func (s *seedJobs) next() (seedJob, bool) {
	if s.left <= 0 {
		return seedJob{}, false
	}
	j := seedJob{integ: uint8(seedPick(s.r, seedIntegCum))}
	fail := seedIntegrations[j.integ].failure
	// Each retry is likelier to succeed than the last: transient outages pass.
	for j.attempts < maxSeedAttempts && !j.ok {
		j.attempts++
		j.ok = s.r.Float64() >= fail
		fail *= 0.6
	}
	if int(j.attempts) > s.left { // the last job is still retrying
		j.attempts, j.ok = uint8(s.left), false
	}
	s.left -= int(j.attempts)
	if s.clock != nil {
		j.at = s.clock.next()
		j.id = seedV7(j.at, s.ids)
	}
	return j, true
}

func (p *seedPlan) copyIntegrations(ctx context.Context, tx pgx.Tx, n int) (int64, error) {
	if n == 0 {
		return 0, nil
	}
	count := p.jobPlan(n, 0)
	jobs := 0
	for _, ok := count.next(); ok; _, ok = count.next() {
		jobs++
	}
	// integration_jobs rows go first, so that no log ever names a missing job.
	plan := p.jobPlan(n, jobs)
	jobVals := make([]any, 4)
	_, err := p.copy(ctx, tx, "integration_jobs", []string{"workspace_id", "id", "integration_id", "created_at"},
		&seedRows{left: jobs, row: func() ([]any, error) {
			j, _ := plan.next()
			jobVals[0], jobVals[1], jobVals[2], jobVals[3] = p.ws, j.id, p.ents.integrations[j.integ], j.at
			return jobVals, nil
		}})
	if err != nil {
		return 0, fmt.Errorf("jobs: %w", err)
	}
	plan = p.jobPlan(n, jobs)
	r := p.rng(301)
	ids := p.idRng(301)
	end := p.start.Add(time.Duration(p.hours) * time.Hour)
	var job seedJob
	attempt := 0
	var t time.Time
	vals := make([]any, 10)
	src := &seedRows{left: n, row: func() ([]any, error) {
		if attempt == int(job.attempts) {
			job, _ = plan.next()
			attempt, t = 0, job.at
		}
		attempt++
		if attempt > 1 { // exponential backoff: ~30 s, 2 min, 8 min, 32 min
			t = t.Add(time.Duration(float64(30*time.Second) * math.Pow(4, float64(attempt-2)) * (0.8 + 0.4*r.Float64()))).
				Truncate(time.Microsecond)
			if !t.Before(end) {
				t = end.Add(-time.Microsecond)
			}
		}
		ok := attempt == int(job.attempts) && job.ok
		var status int16
		var body, detail any
		switch {
		case ok:
			status = seedOneOf(r, seedOKCodes)
			if b := seedOneOf(r, seedOKBodies); b != "" && status != 204 {
				body = b
			}
		default:
			status = seedFailCodes[seedPick(r, seedFailWeights)]
			if status != 0 {
				body, detail = seedFailBodies[status], seedNon2xx
				break
			}
			// Status 0: no HTTP response at all.
			switch r.IntN(3) {
			case 0:
				detail = "Request timed out after 30000ms"
			case 1:
				detail = "dial tcp " + seedIPv4(r).String() + ":443: connect: connection refused"
			default:
				detail = "x509: certificate has expired or is not yet valid"
			}
		}
		vals[0], vals[1], vals[2], vals[3], vals[4] = p.ws, seedV7(t, ids), t, p.ents.integrations[job.integ], job.id
		vals[5], vals[6], vals[7], vals[8], vals[9] = ok, int32(attempt), body, status, detail
		return vals, nil
	}}
	return p.copy(ctx, tx, "integration_logs", []string{"workspace_id", "id", "created_at", "integration_id", "job_id", "succeeded",
		"attempt", "body", "status_code", "error_detail"}, src)
}

// --- action logs ---

type seedLogger struct{ name, app string }

var seedLoggers = []seedLogger{
	{"omnishop.orders", "oms"},
	{"omnishop.payments", "oms"},
	{"omnishop.integrations.erp", "oms"},
	{"omnishop.stock", "wms"},
	{"omnishop.picking", "wms"},
	{"omnishop.shipments", "wms"},
	{"omnishop.products", "pim"},
	{"omnishop.pricing", "pim"},
	{"omnishop.customers", "crm"},
	{"omnishop.invoices", "billing"},
	{"celery.worker", "oms"},
}

// seedActionTemplate is one kind of action message. For ERROR and CRITICAL rows msg
// also gives the exception line that ends the traceback; the frames above it are
// fixed per template, as a real code path's are.
type seedActionTemplate struct {
	level  int16 // 10 also serves NOTSET (0) rows
	logger int
	msg    func(r *rand.Rand) (msg, exc string)
	frames string
}

var seedActionTemplates = []seedActionTemplate{
	{10, 0, func(r *rand.Rand) (string, string) {
		return fmt.Sprintf("Fetched %d order lines for order %d", 1+r.IntN(12), 500000+r.IntN(400000)), ""
	}, ""},
	{10, 7, func(r *rand.Rand) (string, string) {
		return fmt.Sprintf("Cache hit ratio %d%% for price list %d", 40+r.IntN(60), 1+r.IntN(40)), ""
	}, ""},
	{10, 3, func(r *rand.Rand) (string, string) {
		return fmt.Sprintf("Stock query for SKU-%05d took %dms", 1+r.IntN(40000), max(1, seedLogNormal(r, 6, 0.8))), ""
	}, ""},
	{10, 10, func(r *rand.Rand) (string, string) {
		return fmt.Sprintf("Task omnishop.tasks.sync_stock[%08x] received", r.Uint32()), ""
	}, ""},
	{20, 0, func(r *rand.Rand) (string, string) {
		c := r.IntN(20000)
		return fmt.Sprintf("Order %d created (channel=%s, total=%d.%02d)", 500000+r.IntN(400000),
			seedOneOf(r, []string{"web", "ios", "android", "marketplace", "pos"}), c/100+5, c%100), ""
	}, ""},
	{20, 0, func(r *rand.Rand) (string, string) {
		s := r.IntN(len(seedStates) - 1)
		return fmt.Sprintf("Order %d moved to state %s", 500000+r.IntN(400000), seedStates[s+1]), ""
	}, ""},
	{20, 5, func(r *rand.Rand) (string, string) {
		return fmt.Sprintf("Shipment %d packed at warehouse %s", 200000+r.IntN(300000), seedOneOf(r, seedWarehouses)), ""
	}, ""},
	{20, 7, func(r *rand.Rand) (string, string) {
		return fmt.Sprintf("Price list %d recalculated for %d products", 1+r.IntN(40), 100+r.IntN(20000)), ""
	}, ""},
	{20, 9, func(r *rand.Rand) (string, string) {
		return fmt.Sprintf("Invoice INV-%06d issued for order %d", r.IntN(1000000), 500000+r.IntN(400000)), ""
	}, ""},
	{20, 3, func(r *rand.Rand) (string, string) {
		return fmt.Sprintf("Stock transfer %d completed: %d items", 10000+r.IntN(90000), 1+r.IntN(300)), ""
	}, ""},
	{20, 8, func(r *rand.Rand) (string, string) {
		return fmt.Sprintf("Customer %d merged into %d", 100000+r.IntN(900000), 100000+r.IntN(900000)), ""
	}, ""},
	{20, 10, func(r *rand.Rand) (string, string) {
		return fmt.Sprintf("Task omnishop.tasks.export_orders[%08x] succeeded in %.3fs", r.Uint32(), r.ExpFloat64()*2), ""
	}, ""},
	{20, 4, func(r *rand.Rand) (string, string) {
		return fmt.Sprintf("Picking list %d assigned to picker %d", 70000+r.IntN(30000), 1+r.IntN(60)), ""
	}, ""},
	{30, 0, func(r *rand.Rand) (string, string) {
		return fmt.Sprintf("Order %d has no shipping address, using billing address", 500000+r.IntN(400000)), ""
	}, ""},
	{30, 3, func(r *rand.Rand) (string, string) {
		return fmt.Sprintf("Stock for SKU-%05d below safety level (%d < %d)", 1+r.IntN(40000), r.IntN(10), 10+r.IntN(20)), ""
	}, ""},
	{30, 2, func(r *rand.Rand) (string, string) {
		return fmt.Sprintf("ERP response slow: %dms for batch %d", 3000+r.IntN(20000), 1000+r.IntN(9000)), ""
	}, ""},
	{30, 10, func(r *rand.Rand) (string, string) {
		return fmt.Sprintf("Retrying task omnishop.tasks.send_invoice[%08x] in %ds (attempt %d)", r.Uint32(), 10*(1+r.IntN(6)), 2+r.IntN(3)), ""
	}, ""},
	{40, 0, func(r *rand.Rand) (string, string) {
		o, sku := 500000+r.IntN(400000), 1+r.IntN(40000)
		return fmt.Sprintf("Failed to allocate order %d: insufficient stock for SKU-%05d", o, sku),
			fmt.Sprintf("omnishop.stock.exceptions.InsufficientStock: SKU-%05d requested %d, available 0", sku, 1+r.IntN(5))
	}, "  File \"/app/omnishop/orders/services.py\", line 214, in allocate_order\n    reservation = StockService.reserve(order.pk, line.sku, line.quantity)\n  File \"/app/omnishop/stock/services.py\", line 88, in reserve\n    raise InsufficientStock(sku, quantity, available)\n"},
	{40, 2, func(r *rand.Rand) (string, string) {
		b := 1000 + r.IntN(9000)
		return fmt.Sprintf("ERP export of batch %d failed: HTTP 502", b),
			fmt.Sprintf("requests.exceptions.HTTPError: 502 Server Error: Bad Gateway for url: https://erp.example.com/api/orders/batch/%d", b)
	}, "  File \"/app/omnishop/integrations/erp/tasks.py\", line 57, in export_batch\n    client.push_orders(batch)\n  File \"/app/omnishop/integrations/erp/client.py\", line 131, in push_orders\n    response.raise_for_status()\n  File \"/usr/local/lib/python3.11/site-packages/requests/models.py\", line 1021, in raise_for_status\n    raise HTTPError(http_error_msg, response=self)\n"},
	{40, 1, func(r *rand.Rand) (string, string) {
		o := 500000 + r.IntN(400000)
		return fmt.Sprintf("Payment capture failed for order %d", o),
			fmt.Sprintf("omnishop.payments.exceptions.CaptureError: provider declined capture of pay_%012x", r.Uint64()&0xffffffffffff)
	}, "  File \"/app/omnishop/payments/tasks.py\", line 92, in capture_payment\n    provider.capture(payment.reference, payment.amount)\n  File \"/app/omnishop/payments/providers/stripe.py\", line 164, in capture\n    raise CaptureError(f\"provider declined capture of {reference}\")\n"},
	{40, 9, func(r *rand.Rand) (string, string) {
		o := 500000 + r.IntN(400000)
		return fmt.Sprintf("Could not generate invoice for order %d", o),
			fmt.Sprintf("KeyError: 'vat_rate_%d'", r.IntN(30))
	}, "  File \"/app/omnishop/invoices/pdf.py\", line 48, in render_invoice\n    context = build_context(order)\n  File \"/app/omnishop/invoices/pdf.py\", line 112, in build_context\n    rate = VAT_RATES[line.tax_code]\n"},
	{40, 6, func(r *rand.Rand) (string, string) {
		row := 2 + r.IntN(5000)
		return fmt.Sprintf("Product import failed at row %d", row),
			fmt.Sprintf("ValueError: invalid literal for int() with base 10: 'N/A' (row %d)", row)
	}, "  File \"/app/omnishop/products/importers.py\", line 203, in import_rows\n    product.stock = int(row[\"stock\"])\n"},
	{50, 0, func(r *rand.Rand) (string, string) {
		o := 500000 + r.IntN(400000)
		return fmt.Sprintf("Database connection lost while committing order %d", o),
			"django.db.utils.OperationalError: server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or while processing the request."
	}, "  File \"/app/omnishop/orders/services.py\", line 301, in place_order\n    order.save()\n  File \"/usr/local/lib/python3.11/site-packages/django/db/backends/utils.py\", line 89, in _execute\n    return self.cursor.execute(sql, params)\n"},
	{50, 10, func(r *rand.Rand) (string, string) {
		return fmt.Sprintf("Worker celery@worker-%d crashed: MemoryError", 1+r.IntN(8)), "MemoryError"
	}, "  File \"/usr/local/lib/python3.11/site-packages/celery/app/trace.py\", line 477, in trace_task\n    R = retval = fun(*args, **kwargs)\n  File \"/app/omnishop/reports/tasks.py\", line 33, in build_sales_report\n    rows = list(queryset.values_list())\n"},
}

// seedActionLevels are Python logging levels, skewed to INFO (20).
var (
	seedActionLevels       = []int16{0, 10, 20, 30, 40, 50}
	seedActionLevelWeights = seedCum(2, 15, 60, 13, 9, 1)
	seedActionByLevel      = func() map[int16][]int {
		by := make(map[int16][]int)
		for i, t := range seedActionTemplates {
			by[t.level] = append(by[t.level], i)
		}
		by[0] = by[10]
		return by
	}()
)

func (p *seedPlan) copyActions(ctx context.Context, tx pgx.Tx, n int) (int64, error) {
	if n == 0 {
		return 0, nil
	}
	// One statement reserves every id from the workspace's counter, as ingest does
	// (outside the stream's transaction); ids then follow time.
	first, err := ReserveActionIDs(ctx, p.d.Pool, uuid.UUID(p.ws), int64(n), 0)
	if err != nil {
		return 0, fmt.Errorf("reserve ids: %w", err)
	}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = first + int64(i)
	}
	r := p.rng(400)
	clock := p.newSeedClock(r, n, 0.8)
	var trace []byte
	i := 0
	vals := make([]any, 8)
	src := &seedRows{left: n, row: func() ([]any, error) {
		t := clock.next()
		lvl := seedActionLevels[seedPick(r, seedActionLevelWeights)]
		by := seedActionByLevel[lvl]
		tpl := &seedActionTemplates[by[r.IntN(len(by))]]
		lg := &seedLoggers[tpl.logger]
		msg, exc := tpl.msg(r)
		vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6], vals[7] = p.ws, ids[i], t, lvl, lg.name, msg, lg.app, nil
		i++
		if lvl >= 40 {
			trace = append(trace[:0], "Traceback (most recent call last):\n"...)
			trace = append(trace, tpl.frames...)
			trace = append(trace, exc...)
			vals[7] = string(trace)
		}
		return vals, nil
	}}
	copied, err := p.copy(ctx, tx, "action_logs", []string{"workspace_id", "id", "created_at", "level", "logger_name", "message", "app_name", "trace"}, src)
	if err != nil {
		return 0, err
	}
	// The ids are the workspace's keys as if ingested (action_log_ids).
	if _, err := tx.Exec(ctx, `INSERT INTO action_log_ids (workspace_id, id) SELECT $1, generate_series($2::bigint, $3::bigint)`,
		p.ws, first, first+int64(n)-1); err != nil {
		return 0, fmt.Errorf("action log ids: %w", err)
	}
	return copied, nil
}

// --- api reference logs ---

// seedIssue is an import error or alert; onOperation ones point below a random
// operation, the others at a fixed place in the document.
type seedIssue struct {
	message, pointer string
	onOperation      bool
}

var (
	seedImportErrors = []seedIssue{
		{"Missing required property 'operationId'", "", true},
		{"Schema reference '#/components/schemas/Customer' could not be resolved", "/responses/200/content/application~1json/schema/$ref", true},
		{"Duplicate operationId 'listOrders'", "/operationId", true},
		{"Invalid type 'integr' for property 'quantity'", "/components/schemas/OrderLine/properties/quantity/type", false},
		{"Path parameter 'id' is not defined in the path template", "/parameters/0", true},
		{"Response must have a 'description'", "/responses/404", true},
	}
	seedImportAlerts = []seedIssue{
		{"Operation has no description", "", true},
		{"Response 4XX is not documented", "/responses", true},
		{"Schema 'LegacyOrder' is unused", "/components/schemas/LegacyOrder", false},
		{"Example does not match schema", "/components/schemas/Product/example", false},
		{"Server URL uses http instead of https", "/servers/0/url", false},
		{"Tag 'internal' is not declared", "/tags/0", true},
	}
	// Operations as JSON pointers (RFC 6901), where '/' inside a path is written '~1'.
	seedOperations = []string{
		"/paths/~1orders/get", "/paths/~1orders/post", "/paths/~1orders~1{id}/get", "/paths/~1customers/get",
		"/paths/~1customers~1{id}/put", "/paths/~1payments/post", "/paths/~1products~1{id}/get",
		"/paths/~1shipments~1{id}~1labels/post",
	}
)

func (p *seedPlan) copyAPIReferences(ctx context.Context, tx pgx.Tx, n int) (int64, error) {
	r := p.rng(500)
	ids := p.idRng(500)
	clock := p.newSeedClock(r, n, 2)
	issues := func(k int, from []seedIssue) []byte {
		b := []byte{'['}
		for i := range k {
			if i > 0 {
				b = append(b, ',')
			}
			is := seedOneOf(r, from)
			ptr := is.pointer
			if is.onOperation {
				ptr = seedOneOf(r, seedOperations) + ptr
			}
			b = append(b, `{"message":`...)
			b = seedAppendJSON(b, is.message)
			b = append(b, `,"pointer":`...)
			b = seedAppendJSON(b, ptr)
			b = append(b, '}')
		}
		return append(b, ']')
	}
	vals := make([]any, 10)
	src := &seedRows{left: n, row: func() ([]any, error) {
		t := clock.next()
		var title string
		var errs, alerts int32
		switch u := r.IntN(100); {
		case u < 70:
			title = "Import successful"
		case u < 90:
			title, alerts = "Import completed with warnings", 1+int32(r.IntN(8))
		default:
			title, errs = "Import failed", 1+int32(r.IntN(6))
			if r.IntN(2) == 0 {
				alerts = int32(r.IntN(5))
			}
		}
		vals[0], vals[1], vals[2] = p.ws, uuid.UUID(seedV7(t, ids)).String(), t
		vals[3], vals[4] = seedOneOf(r, p.ents.refs), seedOneOf(r, p.ents.users)
		vals[5], vals[6], vals[7] = title, errs, alerts
		vals[8], vals[9] = issues(int(errs), seedImportErrors), issues(int(alerts), seedImportAlerts)
		return vals, nil
	}}
	return p.copy(ctx, tx, "api_reference_logs", []string{"workspace_id", "id", "modified_at", "api_reference_id", "user_id", "title",
		"error_count", "alerts_count", "errors", "alerts"}, src)
}
