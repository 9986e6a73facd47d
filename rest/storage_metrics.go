package rest

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loggraph/loggraph/db"
)

// Storage metrics: read from the catalog and log_counts every interval
// (KeepStorage), not at scrape time, so that scrapes cost no statement and a
// scraper cannot make the server measure its storage more often than configured.

var (
	storageKindBytes = prometheus.NewDesc("loggraph_storage_table_bytes",
		"Bytes on disk of a kind's log table over all its partitions: heap, TOAST and every index (refreshed every --storage-metrics-interval).",
		[]string{"kind"}, nil)
	storagePartitions = prometheus.NewDesc("loggraph_storage_partitions",
		"Partitions of a kind's log table.", []string{"kind"}, nil)
	storageRows = prometheus.NewDesc("loggraph_storage_rows",
		"Stored logs by kind and workspace slug (from log_counts, the totals the shims answer).", []string{"kind", "workspace"}, nil)
	storageBytes = prometheus.NewDesc("loggraph_storage_bytes",
		"Approximate bytes on disk by kind and workspace slug: the kind's table bytes shared out by rows.", []string{"kind", "workspace"}, nil)
	storageRefreshed = prometheus.NewDesc("loggraph_storage_refreshed_timestamp_seconds",
		"When the storage metrics were last read (Unix time).", nil, nil)
)

// DefaultStorageMetricsInterval is how often serve reads the storage metrics.
const DefaultStorageMetricsInterval = 5 * time.Minute

// storageCollector exports the last storage snapshot; nothing before the first.
type storageCollector struct {
	mu   sync.Mutex
	snap *db.StorageSnapshot
}

func (c *storageCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{storageKindBytes, storagePartitions, storageRows, storageBytes, storageRefreshed} {
		ch <- d
	}
}

func (c *storageCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	snap := c.snap
	c.mu.Unlock()
	if snap == nil {
		return
	}
	for _, k := range snap.Kinds {
		ch <- prometheus.MustNewConstMetric(storageKindBytes, prometheus.GaugeValue, float64(k.Bytes), k.Kind.Route())
		ch <- prometheus.MustNewConstMetric(storagePartitions, prometheus.GaugeValue, float64(k.Partitions), k.Kind.Route())
	}
	for _, w := range snap.Workspaces {
		ch <- prometheus.MustNewConstMetric(storageRows, prometheus.GaugeValue, float64(w.Rows), w.Kind.Route(), w.Workspace)
		ch <- prometheus.MustNewConstMetric(storageBytes, prometheus.GaugeValue, float64(w.Bytes), w.Kind.Route(), w.Workspace)
	}
	ch <- prometheus.MustNewConstMetric(storageRefreshed, prometheus.GaugeValue, float64(snap.At.UnixNano())/1e9)
}

// KeepStorage measures storage at once and then every interval until ctx ends,
// exporting the last measure; a failed measure is logged and the previous one kept.
func (m *Metrics) KeepStorage(ctx context.Context, d *db.DB, interval time.Duration, log *slog.Logger) {
	c := &storageCollector{}
	m.Registry.MustRegister(c)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		snap, err := db.ReadStorage(ctx, d)
		switch {
		case err == nil:
			c.mu.Lock()
			c.snap = &snap
			c.mu.Unlock()
		case ctx.Err() == nil:
			log.Error("storage metrics", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
