// Package metrics is what the projector tells its operators: the Prometheus metrics of its consumer, the health
// that /healthz answers, and the HTTP server of both.
//
// The metrics live in a Metrics struct built on a prometheus.Registerer, never in globals, so that a test reads its
// own fresh set with testutil.ToFloat64.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Reason is why a message was quarantined, as the rejected metric's label: one of a small fixed set, never the
// error's text, so that a flood of bad messages cannot flood Prometheus with series.
type Reason string

const (
	// MalformedJSON: the message is not a JSON object (a syntax error, a truncated payload, another JSON value).
	MalformedJSON Reason = "malformed_json"
	// UnknownType: the envelope's type is missing or not one of the contract's event types.
	UnknownType Reason = "unknown_type"
	// InvalidField: a field of the envelope or of the data breaks the contract.
	InvalidField Reason = "invalid_field"
	// Identity: only the envelope's id, subject or time are wrong: missing, ill-formed, or not the ones the data
	// derives (an event whose id was not derived from its fact).
	Identity Reason = "identity"
	// Unauthorised: a valid event that its publisher may not have submitted: published on a subject that is not
	// its own (the unit in the subject is not the event's), signed by a credential that may not speak for its unit,
	// signed wrongly, or not signed when signatures are required (projector/consumer, internal/natsauth).
	Unauthorised Reason = "unauthorised"
	// Refused: a valid event the store could never write (a value ClickHouse refuses): quarantined rather than
	// stopping the projection of every other event.
	Refused Reason = "refused"
	// Other: an error of no known kind.
	Other Reason = "other"
)

// Reasons lists every Reason; each is exported from the start, at 0.
var Reasons = []Reason{MalformedJSON, UnknownType, InvalidField, Identity, Unauthorised, Refused, Other}

// Metrics are the projector consumer's metrics, and the health it reports.
type Metrics struct {
	// Projected counts the valid events the store accepted, including those it skipped as already written.
	Projected prometheus.Counter
	// Rejected counts the messages quarantined, by Reason.
	Rejected *prometheus.CounterVec
	// Skipped counts the events the store found already in the raw log: redeliveries, written once only.
	Skipped prometheus.Counter
	// BatchSize observes the messages in each batch written.
	BatchSize prometheus.Histogram
	// WriteSeconds observes how long the store took to write a batch, for the attempts that succeeded.
	WriteSeconds prometheus.Histogram
	// WriteRetries counts the failed write attempts that were retried.
	WriteRetries prometheus.Counter
	// ConsumerLag is the number of messages in the stream not yet written: not yet delivered to the consumer, or
	// delivered and not yet acknowledged, as JetStream counted them at the consumer's last probe (every few seconds,
	// whether or not writes succeed).
	ConsumerLag prometheus.Gauge
	// LastBatch is when the last batch was written, in Unix seconds.
	LastBatch prometheus.Gauge

	// Health is what /healthz answers; the consumer keeps it up to date.
	Health *Health
}

// New creates the metrics and registers them with reg; registering twice with one Registerer panics. A nil reg
// registers nothing, for commands and tests that serve no metrics.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Projected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "egov_projector_events_projected_total",
			Help: "Valid events the store accepted, including those skipped as already in the raw log.",
		}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egov_projector_events_rejected_total",
			Help: "Messages quarantined instead of projected, by reason.",
		}, []string{"reason"}),
		Skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "egov_projector_events_skipped_total",
			Help: "Events the raw log already held (redeliveries), not written again.",
		}),
		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "egov_projector_batch_size",
			Help: "Messages per batch written to ClickHouse.",
			// 1 to 16384: the default batch is 5000.
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		WriteSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "egov_projector_write_seconds",
			Help: "Time the store took to write one batch to ClickHouse, successful attempts only.",
			// 5ms to 41s: a batch of a few events to one that nears the ack wait (1m by default).
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		WriteRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "egov_projector_write_retries_total",
			Help: "Failed batch writes that were retried.",
		}),
		ConsumerLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "egov_projector_consumer_lag",
			Help: "Messages in the stream not yet written by the projector: not yet delivered, or delivered and not acknowledged.",
		}),
		LastBatch: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "egov_projector_last_batch_timestamp_seconds",
			Help: "When the last batch was written, in Unix seconds.",
		}),
		Health: NewHealth(),
	}
	for _, r := range Reasons {
		m.Rejected.WithLabelValues(string(r))
	}
	if reg != nil {
		reg.MustRegister(m.Projected, m.Rejected, m.Skipped, m.BatchSize, m.WriteSeconds, m.WriteRetries,
			m.ConsumerLag, m.LastBatch)
	}
	return m
}

// Reject counts n messages quarantined for r.
func (m *Metrics) Reject(r Reason, n int) {
	m.Rejected.WithLabelValues(string(r)).Add(float64(n))
}
