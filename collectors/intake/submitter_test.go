package intake_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/collectors/intake"
	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
	"github.com/egovtrack/egovtrack/internal/natsauth"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/projector/consumer/consumertest"
)

func TestMain(m *testing.M) { chdbtest.Main(m) }

// From the intake API to ClickHouse on a server that runs the authorisation model: what Thái Nguyên's token posts is
// recorded in events.submitted_by as that token, through the intake's credential, and the projector, which requires
// every event signed, accepts it.
func TestSubmittedByNamesTheToken(t *testing.T) {
	ctx := t.Context()
	quiet := slog.New(slog.DiscardHandler)
	srv := streamtest.StartAuth(t)
	connect := func(name string) *stream.Conn {
		t.Helper()
		c, err := stream.Connect(ctx, srv.As(name), quiet)
		if err != nil {
			t.Fatalf("connect as %s: %v", name, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	connect(natsauth.OfficeName) // creates the stream, which no other credential may
	in := connect(natsauth.IntakeName)

	tokens, err := intake.ParseTokens(strings.NewReader(fmt.Sprintf("province/19 %s\nprovince/01 %s\n",
		intake.HashToken(tokenThaiNguyen), intake.HashToken(tokenHaNoi))))
	if err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(intake.NewHandler(intake.DefaultConfig(), tokens, in, in, quiet, func() time.Time { return day(0) }))
	t.Cleanup(h.Close)
	a := &api{t: t, url: h.URL}
	post := func(path, token string, v any) {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if r := a.do(http.MethodPost, path, token, "application/json", bytes.NewReader(b)); r.status != http.StatusAccepted {
			t.Fatalf("POST %s: status %d, body %s; want 202", path, r.status, r.body)
		}
	}
	post(eventsPath, tokenThaiNguyen, short(registered("1.000001", 3, day(0))))
	post("/v1/units/province/01/events", tokenHaNoi, map[string]any{"type": "gov.egov.procedure.registered.v1",
		"data": map[string]any{"unit": haNoi, "procedure": "1.000002", "name": "Đăng ký khai sinh", "sector": "Hộ tịch",
			"eligible": true, "level": 4, "effective_at": day(1)}})

	_, ch := consumertest.ProjectAsDeployed(t, srv)

	rows, err := ch.Query(ctx, "SELECT unit_code, submitted_by FROM events FINAL ORDER BY unit_code")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var unit, by string
		if err := rows.Scan(&unit, &by); err != nil {
			t.Fatal(err)
		}
		got[unit] = by
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"19": "intake:province/19:" + intake.HashToken(tokenThaiNguyen)[:8],
		"01": "intake:province/01:" + intake.HashToken(tokenHaNoi)[:8],
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events.submitted_by by unit: %v, want %v", got, want)
	}
	var quarantined uint64
	if err := ch.QueryRow(ctx, "SELECT count() FROM quarantine").Scan(&quarantined); err != nil {
		t.Fatal(err)
	}
	if quarantined != 0 {
		t.Errorf("%d events quarantined, want none", quarantined)
	}
}
