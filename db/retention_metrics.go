package db

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loggraph/loggraph/model"
)

// lifecycleStats counts what this process's Lifecycle deleted, for the metrics.
type lifecycleStats struct {
	mu         sync.Mutex
	rows       map[[2]string]float64 // by kind route and reason
	bytes      map[[2]string]float64
	partitions map[string]float64 // by kind route
	lastRun    time.Time
	lastOK     bool
}

func (s *lifecycleStats) deleted(k model.LogKind, reason string, rows, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rows == nil {
		s.rows, s.bytes = map[[2]string]float64{}, map[[2]string]float64{}
	}
	key := [2]string{k.Route(), reason}
	s.rows[key] += float64(rows)
	s.bytes[key] += float64(bytes)
}

func (s *lifecycleStats) dropped(k model.LogKind, rows, bytes int64) {
	s.deleted(k, reasonRetention, rows, bytes)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.partitions == nil {
		s.partitions = map[string]float64{}
	}
	s.partitions[k.Route()]++
}

func (s *lifecycleStats) ran(at time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastRun, s.lastOK = at, ok
}

var (
	deletedRowsDesc = prometheus.NewDesc("loggraph_deleted_rows_total",
		"Log rows deleted by this server, by kind and reason (retention, workspace, filter).", []string{"kind", "reason"}, nil)
	deletedBytesDesc = prometheus.NewDesc("loggraph_deleted_bytes_total",
		"Bytes deleted by this server: dropped partitions' size on disk plus deleted rows' size, by kind and reason.", []string{"kind", "reason"}, nil)
	droppedPartitionsDesc = prometheus.NewDesc("loggraph_retention_partitions_dropped_total",
		"Partitions retention dropped on this server, by kind.", []string{"kind"}, nil)
	lastRunDesc = prometheus.NewDesc("loggraph_retention_last_run_timestamp_seconds",
		"Start of the last retention run of any server (retention_runs); 0: none yet.", nil, nil)
	lastRunOKDesc = prometheus.NewDesc("loggraph_retention_last_run_success",
		"1 if the last retention run of any server succeeded, 0 if it failed or none ran yet.", nil, nil)
)

// Collector exports the deletion counters and the last retention run (read from
// retention_runs at scrape time, so every server reports the run whichever server
// made it).
func (l *Lifecycle) Collector() prometheus.Collector { return lifecycleCollector{l} }

type lifecycleCollector struct{ l *Lifecycle }

func (c lifecycleCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{deletedRowsDesc, deletedBytesDesc, droppedPartitionsDesc, lastRunDesc, lastRunOKDesc} {
		ch <- d
	}
}

func (c lifecycleCollector) Collect(ch chan<- prometheus.Metric) {
	s := &c.l.stats
	s.mu.Lock()
	for _, k := range model.AllKinds {
		for _, reason := range []string{reasonRetention, reasonWorkspace, reasonFilter} {
			key := [2]string{k.Route(), reason}
			ch <- prometheus.MustNewConstMetric(deletedRowsDesc, prometheus.CounterValue, s.rows[key], key[0], key[1])
			ch <- prometheus.MustNewConstMetric(deletedBytesDesc, prometheus.CounterValue, s.bytes[key], key[0], key[1])
		}
		ch <- prometheus.MustNewConstMetric(droppedPartitionsDesc, prometheus.CounterValue, s.partitions[k.Route()], k.Route())
	}
	at, ok := s.lastRun, s.lastOK
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if run, err := c.l.LastRetentionRun(ctx); err == nil && run != nil {
		at, ok = run.StartedAt, run.OK
	}
	ts, okv := 0.0, 0.0
	if !at.IsZero() {
		ts = float64(at.UnixNano()) / 1e9
	}
	if ok {
		okv = 1
	}
	ch <- prometheus.MustNewConstMetric(lastRunDesc, prometheus.GaugeValue, ts)
	ch <- prometheus.MustNewConstMetric(lastRunOKDesc, prometheus.GaugeValue, okv)
}
