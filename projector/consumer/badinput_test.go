package consumer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
	"github.com/egovtrack/egovtrack/projector/consumer"
	"github.com/egovtrack/egovtrack/projector/store"
)

// The bad-input list of issue 6, as the projector meets it: messages published straight to the stream, as a
// misconfigured server or a faulty client could, between two valid events. Every one is quarantined with event.Decode's
// reason and its payload as it came, none is dropped, and none stops the projector: the valid events after them are
// projected.
func TestBadInputIsQuarantined(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	ns := streamtest.New(t)
	nc, err := stream.Connect(ctx, ns, log) // which creates the stream
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	hanoi := units.Ref{Kind: units.Province, Code: "01"}
	at := time.Date(2021, 7, 1, 8, 0, 0, 0, time.UTC)
	mustEvent := func(d event.Data) []byte {
		env, err := event.New("/egovtrack/test", d)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := mustEvent(&event.ProcedureRegisteredData{Unit: hanoi, Procedure: "1.000001", Name: "Đăng ký khai sinh", Sector: "Hộ tịch", Eligible: true, Level: 3, EffectiveAt: at})
	last := mustEvent(&event.LevelChangedData{Unit: hanoi, Procedure: "1.000001", From: 3, To: 4, EffectiveAt: at.Add(time.Hour)})
	edit := func(old, new string) []byte {
		if !bytes.Contains(first, []byte(old)) {
			t.Fatalf("the event has no %s: %s", old, first)
		}
		return bytes.Replace(first, []byte(old), []byte(new), 1)
	}
	bad := []struct {
		item    string
		payload []byte
		reason  string // event.Decode's error, which the quarantine row keeps
	}{
		{"malformed JSON", []byte(`{"id": 7, "garbage`), "decode envelope: malformed JSON at byte offset 18: unexpected end of JSON input"},
		{"wrong types", edit(`"eligible":true`, `"eligible":"có"`), "data.eligible: is a string, want a boolean"},
		{"unknown event type", edit(`"gov.egov.procedure.registered.v1"`, `"gov.egov.procedure.renamed.v1"`), `type: "gov.egov.procedure.renamed.v1" is not a known event type`},
		{"unknown version", edit(`"gov.egov.procedure.registered.v1"`, `"gov.egov.procedure.registered.v2"`), `type: "gov.egov.procedure.registered.v2" is not a known event type`},
		{"unknown unit", edit(`"code":"01"`, `"code":"03"`), "data.unit: province/03 is not a known unit"},
		{"invalid level", edit(`"level":3`, `"level":9`), "data.level: 9 is out of range 1–4"},
		{"future time", edit(`"effective_at":"2021-07-01T08:00:00Z"`, `"effective_at":"2100-07-01T08:00:00Z"`), "data.effective_at: 2100-07-01T08:00:00Z is in the future: egovtrack records times up to 5 minutes from now"},
		{"oversized payload", edit(`"name":"Đăng ký khai sinh"`, `"name":"`+strings.Repeat("Đăng ký khai sinh ", 45000)+`"`), "decode envelope: the event is 945412 bytes, more than the 65536 an event may be"},
		{"invalid UTF-8", edit("Hộ tịch", "H\xe9 t\xdech"), "decode envelope: invalid UTF-8 at byte offset 356: an event is UTF-8 text"},
		{"a field given twice", edit(`"level":3`, `"level":3,"level":4`), "data.level: is given twice (the second time at byte offset 400): give each field once"},
		{"an empty message", []byte{}, "decode envelope: malformed JSON at byte offset 0: unexpected end of JSON input"},
		{"not an object", []byte(`[1, 2]`), "decode envelope: the event is an array, not a JSON object"},
		{"an event claiming another unit", edit(`"subject":"egov.province.01.proc.1_000001"`, `"subject":"egov.province.79.proc.1_000001"`),
			`subject: is "egov.province.79.proc.1_000001", but the data is about "egov.province.01.proc.1_000001"`},
	}
	subject := event.ProcedureSubject(hanoi, "1.000001")
	raw := streamtest.Dial(t, ns)
	for _, p := range append(append([][]byte{first}, payloads(bad)...), last) {
		raw.Publish(t, subject, p)
	}

	conn := chdbtest.Conn(t, chdbtest.New(t))
	st, err := store.Open(ctx, conn, log, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := nc.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := consumer.New(ctx, s, consumer.Config{Durable: "badinput", BatchSize: 4, FlushInterval: 50 * time.Millisecond, AckWait: time.Minute}, st, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := c.Run(ctx, true)
	if err != nil {
		t.Fatalf("the projector stopped: %v", err)
	}
	if stats.Projected != 2 || stats.Rejected != len(bad) {
		t.Errorf("projected %d and quarantined %d, want 2 and %d", stats.Projected, stats.Rejected, len(bad))
	}
	rows, err := conn.Query(ctx, "SELECT stream_seq, subject, payload, reason FROM quarantine FINAL ORDER BY stream_seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var (
			seq                   uint64
			subj, payload, reason string
		)
		if err := rows.Scan(&seq, &subj, &payload, &reason); err != nil {
			t.Fatal(err)
		}
		if i >= len(bad) {
			t.Errorf("an unexpected quarantine row %d: %s", seq, reason)
			continue
		}
		b := bad[i]
		if seq != uint64(i+2) || subj != subject {
			t.Errorf("%s: quarantined as message %d on %s, want %d on %s", b.item, seq, subj, i+2, subject)
		}
		if reason != b.reason {
			t.Errorf("%s: reason\n  %s\nwant\n  %s", b.item, reason, b.reason)
		}
		if payload != string(b.payload) {
			t.Errorf("%s: the quarantined payload (%d bytes) is not the message (%d bytes)", b.item, len(payload), len(b.payload))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(bad) {
		t.Errorf("%d quarantine rows, want %d", i, len(bad))
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM events FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("events holds %d rows, want the 2 valid events", n)
	}
}

func payloads(bad []struct {
	item    string
	payload []byte
	reason  string
}) [][]byte {
	out := make([][]byte, len(bad))
	for i, b := range bad {
		out[i] = b.payload
	}
	return out
}
