package intake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/egovtrack/egovtrack/collectors/intake"
	"github.com/egovtrack/egovtrack/collectors/reporting"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/stream"
	"github.com/egovtrack/egovtrack/internal/stream/streamtest"
	"github.com/egovtrack/egovtrack/internal/units"
)

// Tokens of the two units of these tests. They appear in no log: TestAuthorization searches for them.
const (
	tokenThaiNguyen = "tn-5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9"
	tokenHaNoi      = "hn-0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3"
)

var (
	thaiNguyen = units.Ref{Kind: units.Province, Code: "19"}
	haNoi      = units.Ref{Kind: units.Province, Code: "01"}
)

const (
	eventsPath    = "/v1/units/province/19/events"
	cataloguePath = "/v1/units/province/19/catalogue"
	snapshotPath  = "/v1/units/province/19/snapshot"
)

// day is when the tests' facts take effect: 1 September 2021, 09:00 in Vietnam, plus n days.
func day(n int) time.Time { return time.Date(2021, 9, 1+n, 9, 0, 0, 0, event.Vietnam) }

// api is the real handler over HTTP, on a real embedded JetStream server of its own.
type api struct {
	t     *testing.T
	url   string
	conn  *stream.Conn
	logs  *syncBuffer
	clock *clock
	// reader is what the handler reads the stream through, counting its reads.
	reader *countingReader
}

// countingReader is a reporting.Reader that counts the subjects read.
type countingReader struct {
	r     reporting.Reader
	reads atomic.Int64
}

func (c *countingReader) Read(ctx context.Context, subject string, fn func(uint64, []byte) error) error {
	c.reads.Add(1)
	return c.r.Read(ctx, subject, fn)
}

func newAPI(t *testing.T, configure ...func(*intake.Config)) *api {
	t.Helper()
	conn, err := stream.Connect(t.Context(), streamtest.New(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	tokens, err := intake.ParseTokens(strings.NewReader(fmt.Sprintf("# test units\nprovince/19 %s\nprovince/01 %s\n",
		intake.HashToken(tokenThaiNguyen), intake.HashToken(tokenHaNoi))))
	if err != nil {
		t.Fatal(err)
	}
	cfg := intake.DefaultConfig()
	// Tests send dozens of requests a second with one token; TestRateLimit sets its own limit.
	cfg.Burst = 1000
	for _, f := range configure {
		f(&cfg)
	}
	a := &api{t: t, conn: conn, logs: &syncBuffer{}, clock: &clock{at: day(0)}}
	log := slog.New(slog.NewTextHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a.reader = &countingReader{r: conn}
	srv := httptest.NewServer(intake.NewHandler(cfg, tokens, conn, a.reader, log, a.clock.now))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", a.logs)
		}
	})
	a.url = srv.URL
	return a
}

// reply is an answer of the API.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) errorBody(t *testing.T) intake.ErrorResponse {
	t.Helper()
	var e intake.ErrorResponse
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" || e.Fields == nil {
		t.Fatalf("status %d: body %s is not {\"error\": …, \"fields\": […]} (%v)", r.status, r.body, err)
	}
	return e
}

func (r reply) fieldNames() []string {
	var e intake.ErrorResponse
	json.Unmarshal(r.body, &e)
	var names []string
	for _, f := range e.Fields {
		names = append(names, f.Field)
	}
	slices.Sort(names)
	return names
}

func (a *api) do(method, path, token, contentType string, body io.Reader) reply {
	a.t.Helper()
	req, err := http.NewRequestWithContext(a.t.Context(), method, a.url+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

// send sends v as JSON with Thái Nguyên's token.
func (a *api) send(method, path string, v any) reply {
	a.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		a.t.Fatal(err)
	}
	return a.do(method, path, tokenThaiNguyen, "application/json", bytes.NewReader(b))
}

// stored is how many events the stream holds.
func (a *api) stored() uint64 {
	a.t.Helper()
	s, err := a.conn.Stream(a.t.Context())
	if err != nil {
		a.t.Fatal(err)
	}
	info, err := s.Info(a.t.Context())
	if err != nil {
		a.t.Fatal(err)
	}
	return info.State.Msgs
}

// envelopes returns the events stored under subject, in stream order.
func (a *api) envelopes(subject string) []event.Envelope {
	a.t.Helper()
	var out []event.Envelope
	err := a.conn.Read(a.t.Context(), subject, func(_ uint64, b []byte) error {
		env, _, err := event.Decode(b)
		if err != nil {
			return fmt.Errorf("stored event does not decode: %w", err)
		}
		out = append(out, env)
		return nil
	})
	if err != nil {
		a.t.Fatal(err)
	}
	return out
}

func (a *api) catalogue() reporting.Catalogue {
	a.t.Helper()
	cat, err := reporting.Load(a.t.Context(), a.conn, thaiNguyen)
	if err != nil {
		a.t.Fatal(err)
	}
	return cat
}

func decode[T any](t *testing.T, r reply) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("status %d, body %s: %v", r.status, r.body, err)
	}
	return v
}

// short is the short form of an event: its type and data.
func short(d event.Data) map[string]any { return map[string]any{"type": d.EventType(), "data": d} }

// id is the id the contract gives d.
func id(t *testing.T, d event.Data) string {
	t.Helper()
	env, err := event.New(intake.Source, d)
	if err != nil {
		t.Fatal(err)
	}
	return env.ID
}

func registered(code string, level event.Level, at time.Time) *event.ProcedureRegisteredData {
	return &event.ProcedureRegisteredData{Unit: thaiNguyen, Procedure: code, Name: "Cấp giấy phép xây dựng",
		Sector: "Xây dựng", Eligible: true, Level: level, EffectiveAt: at}
}

func changed(code string, from, to event.Level, at time.Time) *event.LevelChangedData {
	return &event.LevelChangedData{Unit: thaiNguyen, Procedure: code, From: from, To: to, EffectiveAt: at}
}

func retired(code string, at time.Time) *event.ProcedureRetiredData {
	return &event.ProcedureRetiredData{Unit: thaiNguyen, Procedure: code, Reason: "bãi bỏ", EffectiveAt: at}
}

// One event is stored once, whatever the number of times it is sent, and each time answered with its id.
func TestEventIsStoredOnceAndKeepsItsID(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	d := registered("1.000001", 3, day(0))
	want := id(t, d)
	for try := 1; try <= 2; try++ {
		r := a.send(http.MethodPost, eventsPath, short(d))
		if r.status != http.StatusAccepted {
			t.Fatalf("send %d: status %d, body %s; want 202", try, r.status, r.body)
		}
		if got := decode[intake.EventsResponse](t, r).IDs; !slices.Equal(got, []string{want}) {
			t.Errorf("send %d: ids %v, want [%s]", try, got, want)
		}
		if n := a.stored(); n != 1 {
			t.Errorf("after send %d the stream holds %d events, want 1", try, n)
		}
	}
	envs := a.envelopes(d.Subject())
	if len(envs) != 1 || envs[0].ID != want || envs[0].Source != intake.Source || envs[0].Type != event.ProcedureRegistered {
		t.Errorf("stored %+v, want one %s from %s with id %s", envs, event.ProcedureRegistered, intake.Source, want)
	}
}

// A full CloudEvents envelope is stored with its sender's source; one whose id is not its fact's is refused.
func TestFullEnvelope(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const source = "/thai-nguyen/dich-vu-cong"
	env, err := event.New(source, registered("1.000002", 2, day(0)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(env)
	r := a.do(http.MethodPost, eventsPath, tokenThaiNguyen, "application/cloudevents+json", bytes.NewReader(b))
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d, body %s; want 202", r.status, r.body)
	}
	if got := decode[intake.EventsResponse](t, r).IDs; !slices.Equal(got, []string{env.ID}) {
		t.Errorf("ids %v, want [%s]", got, env.ID)
	}
	if got := a.envelopes(env.Subject); len(got) != 1 || got[0].Source != source {
		t.Errorf("stored %+v, want the envelope with source %s", got, source)
	}

	forged := env
	forged.ID = "3f1e2d4c-0000-5000-8000-000000000000"
	r = a.send(http.MethodPost, eventsPath, forged)
	if r.status != http.StatusUnprocessableEntity || !slices.Equal(r.fieldNames(), []string{"id"}) {
		t.Errorf("envelope with another id: status %d, fields %v; want 422 on id", r.status, r.fieldNames())
	}
	if n := a.stored(); n != 1 {
		t.Errorf("the stream holds %d events, want 1", n)
	}
}

// A batch is checked as a whole and applied in order of effective time: a level change may come before the
// registration it follows in the array. Sending the batch again stores nothing and answers the same ids.
func TestBatch(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	stage := &event.AssistantStageChangedData{Unit: thaiNguyen, Stage: event.StagePilot, EffectiveAt: day(1)}
	batch := []event.Data{
		changed("1.000001", 2, 4, day(1)),
		registered("1.000001", 2, day(0)),
		registered("1.000002", 3, day(0)),
		retired("1.000002", day(1)),
		stage,
		registered("1.000001", 2, day(0)), // the same fact twice in one request
	}
	var body []map[string]any
	var want []string
	for _, d := range batch {
		body = append(body, short(d))
		want = append(want, id(t, d))
	}
	for try := 1; try <= 2; try++ {
		r := a.send(http.MethodPost, eventsPath, body)
		if r.status != http.StatusAccepted {
			t.Fatalf("send %d: status %d, body %s; want 202", try, r.status, r.body)
		}
		if got := decode[intake.EventsResponse](t, r).IDs; !slices.Equal(got, want) {
			t.Errorf("send %d: ids %v\nwant %v", try, got, want)
		}
		if n := a.stored(); n != 5 {
			t.Errorf("after send %d the stream holds %d events, want 5", try, n)
		}
	}
	cat := a.catalogue()
	if e := cat.Procedures["1.000001"]; !e.Active || e.Level != 4 {
		t.Errorf("1.000001 is %+v, want active at level 4", e)
	}
	if e := cat.Procedures["1.000002"]; e.Active {
		t.Errorf("1.000002 is %+v, want retired", e)
	}
}

// A snapshot publishes what changed and a report; the same snapshot again publishes nothing; a changed one publishes
// exactly its differences.
func TestCatalogueSnapshot(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	item := func(code, name string, level any) map[string]any {
		return map[string]any{"code": code, "name": name, "sector": "Hộ tịch", "eligible": true, "level": level}
	}
	first := map[string]any{
		"unit": thaiNguyen,
		"procedures": []map[string]any{
			item("1.000001", "Đăng ký khai sinh", 3),
			item("1.000002", "Đăng ký kết hôn", "partial"),
			item("1.000003", "Đăng ký khai tử", 2),
			item("1.000004", "Trích lục hộ tịch", "full"),
		},
	}
	second := map[string]any{ // the unit may be left out: the path names it
		"procedures": []map[string]any{
			item("1.000001", "Đăng ký khai sinh", 4),       // changed
			item("1.000002", "Đăng ký kết hôn (mới)", 3),   // updated
			item("1.000004", "Trích lục hộ tịch", "full"),  // unchanged
			item("1.000005", "Cấp bản sao trích lục", "4"), // added; 1.000003 retired
		},
	}
	steps := []struct {
		name    string
		method  string
		path    string
		body    any
		status  int
		repeat  bool
		counts  intake.Counts
		codes   [4][]string // added, updated, changed, retired
		ids     int
		storedN uint64
	}{
		{"first", http.MethodPut, cataloguePath, first, http.StatusAccepted, false,
			intake.Counts{Added: 4}, [4][]string{{"1.000001", "1.000002", "1.000003", "1.000004"}, {}, {}, {}}, 5, 5},
		{"same again", http.MethodPut, cataloguePath, first, http.StatusOK, true,
			intake.Counts{Unchanged: 4}, [4][]string{{}, {}, {}, {}}, 0, 5},
		{"changed", http.MethodPost, snapshotPath, second, http.StatusAccepted, false,
			intake.Counts{Added: 1, Updated: 1, Changed: 1, Retired: 1, Unchanged: 1},
			[4][]string{{"1.000005"}, {"1.000002"}, {"1.000001"}, {"1.000003"}}, 5, 10},
	}
	for _, s := range steps {
		r := a.send(s.method, s.path, s.body)
		if r.status != s.status {
			t.Fatalf("%s: status %d, body %s; want %d", s.name, r.status, r.body, s.status)
		}
		got := decode[intake.CatalogueResponse](t, r)
		if got.Repeat != s.repeat || got.Counts != s.counts || len(got.IDs) != s.ids {
			t.Errorf("%s: repeat %v, counts %+v, %d ids; want %v, %+v, %d", s.name, got.Repeat, got.Counts, len(got.IDs), s.repeat, s.counts, s.ids)
		}
		for i, codes := range [][]string{got.Added, got.Updated, got.Changed, got.Retired} {
			if !slices.Equal(codes, s.codes[i]) {
				t.Errorf("%s: %s %v, want %v", s.name, []string{"added", "updated", "changed", "retired"}[i], codes, s.codes[i])
			}
		}
		if n := a.stored(); n != s.storedN {
			t.Errorf("%s: the stream holds %d events, want %d", s.name, n, s.storedN)
		}
		if len(got.IDs) > 0 { // the last id is the report's
			reports := a.envelopes(event.UnitSubject(thaiNguyen, "report"))
			if last := reports[len(reports)-1]; last.ID != got.IDs[len(got.IDs)-1] || last.Source != intake.Source {
				t.Errorf("%s: the latest report is %s from %s, want %s from %s", s.name, last.ID, last.Source, got.IDs[len(got.IDs)-1], intake.Source)
			}
		}
	}
	cat := a.catalogue()
	want := map[string]event.Level{"1.000001": 4, "1.000002": 3, "1.000004": 4, "1.000005": 4}
	for code, e := range cat.Procedures {
		if l, ok := want[code]; e.Active != ok || ok && e.Level != l {
			t.Errorf("%s: %+v, want active %v at level %d", code, e, ok, l)
		}
	}
	if cat.LastReport == nil || cat.LastReport.Collector != intake.Collector {
		t.Errorf("latest report %+v, want one by %s", cat.LastReport, intake.Collector)
	}

	// The next day the same catalogue is a new report: the unit is seen to be reporting.
	a.clock.set(day(1))
	r := a.send(http.MethodPut, cataloguePath, second)
	if got := decode[intake.CatalogueResponse](t, r); r.status != http.StatusAccepted || got.Repeat || len(got.IDs) != 1 {
		t.Errorf("next day: status %d, %+v; want 202 with the report's id alone", r.status, got)
	}
}

// Only a unit's own token reports for it; refusals are logged with the units involved, never with a token.
func TestAuthorization(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	event := short(registered("1.000001", 3, day(0)))
	body, _ := json.Marshal(event)
	cases := []struct {
		name   string
		path   string
		auth   string // the whole Authorization header
		status int
		log    []string // in the server's log after the request
	}{
		{"no header", eventsPath, "", http.StatusUnauthorized, []string{"request without a bearer token refused"}},
		{"empty bearer", eventsPath, "Bearer ", http.StatusUnauthorized, []string{"request without a bearer token refused"}},
		{"basic scheme", eventsPath, "Basic dXNlcjpwYXNz", http.StatusUnauthorized, []string{"request without a bearer token refused"}},
		{"unknown token", eventsPath, "Bearer not-a-token-of-anyone-0123456789abcdef", http.StatusUnauthorized, []string{"invalid token refused"}},
		{"another unit's token", eventsPath, "Bearer " + tokenHaNoi, http.StatusForbidden,
			[]string{"token of another unit refused", "token_unit=province/01", "target=province/19"}},
		{"another unit's token, snapshot", cataloguePath, "Bearer " + tokenHaNoi, http.StatusForbidden,
			[]string{"token_unit=province/01", "target=province/19"}},
		{"a unit that does not exist", "/v1/units/province/99/events", "Bearer " + tokenThaiNguyen, http.StatusForbidden,
			[]string{"token_unit=province/19", "target=province/99"}},
		{"own token, scheme in lower case", eventsPath, "bearer " + tokenThaiNguyen, http.StatusAccepted, nil},
	}
	for _, c := range cases {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, a.url+c.path, bytes.NewReader(body))
		if c.path == cataloguePath {
			req.Method = http.MethodPut
		}
		req.Header.Set("Content-Type", "application/json")
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r := reply{resp.StatusCode, resp.Header, b}
		if r.status != c.status {
			t.Errorf("%s: status %d, body %s; want %d", c.name, r.status, r.body, c.status)
			continue
		}
		if c.status == http.StatusUnauthorized && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate %q, want a Bearer challenge", c.name, r.header.Get("WWW-Authenticate"))
		}
		if c.status >= 400 {
			r.errorBody(t)
		}
		for _, s := range c.log {
			if !strings.Contains(a.logs.String(), s) {
				t.Errorf("%s: the log lacks %q", c.name, s)
			}
		}
	}
	if n := a.stored(); n != 1 {
		t.Errorf("the stream holds %d events, want the one sent with its own token", n)
	}
	for _, secret := range []string{tokenThaiNguyen, tokenHaNoi, "not-a-token-of-anyone", "dXNlcjpwYXNz"} {
		if strings.Contains(a.logs.String(), secret) {
			t.Errorf("the log contains the secret %q", secret)
		}
	}
}

// Every bad request is refused with a JSON body that says what is wrong and where, and stores nothing.
func TestBadRequests(t *testing.T) {
	t.Parallel()
	a := newAPI(t, func(c *intake.Config) { c.MaxBody = 64 << 10 })
	valid := func(d event.Data) string { b, _ := json.Marshal(short(d)); return string(b) }
	const (
		ev  = "application/json"
		reg = `"type": "gov.egov.procedure.registered.v1"`
		// the data of a valid registration, to which cases add or change one field
		unit = `"unit": {"kind": "province", "code": "19"}`
		data = unit + `, "procedure": "1.000001", "name": "Đăng ký khai sinh", "sector": "Hộ tịch", "eligible": true, "effective_at": "2021-09-01T09:00:00+07:00"`
	)
	huge := `{"type": "` + strings.Repeat("x", 64<<10) + `"}`
	cases := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        io.Reader
		status      int
		fields      []string // every field named, sorted
		say         string   // in the error message
		offset      int64    // of malformed JSON or bad UTF-8; 0 for none
	}{
		{"malformed JSON", "POST", eventsPath, ev, strings.NewReader(`{"type": "x", "data": {"level": }}`),
			400, nil, "malformed JSON at byte offset 33 (line 1, column 33)", 33},
		{"malformed JSON on line 2", "POST", eventsPath, ev, strings.NewReader("[\n  {\"type\" \"x\"}]"),
			400, nil, "byte offset 13 (line 2, column 11)", 13},
		{"trailing garbage", "POST", eventsPath, ev, strings.NewReader(`{} {}`), 400, nil, "byte offset 4 (line 1, column 4): invalid character '{' after top-level value", 4},
		{"empty body", "POST", eventsPath, ev, strings.NewReader(" \n"), 400, nil, "empty", 0},
		{"not UTF-8", "POST", eventsPath, ev, strings.NewReader("{\"name\": \"\xd0\xe3ng k\xfd\"}"), 400, nil, "not valid UTF-8 at byte offset 11", 11},
		{"no content type", "POST", eventsPath, "", strings.NewReader(`{}`), 415, nil, "application/json", 0},
		{"form content type", "POST", eventsPath, "application/x-www-form-urlencoded", strings.NewReader(`{}`), 415, nil, "application/json", 0},
		{"latin-1", "POST", eventsPath, "application/json; charset=iso-8859-1", strings.NewReader(`{}`), 415, nil, "UTF-8", 0},
		{"oversized", "POST", eventsPath, ev, strings.NewReader(huge), 413, nil, "larger than 65536 bytes", 0},
		{"oversized, length unknown", "POST", eventsPath, ev, io.MultiReader(strings.NewReader(huge)), 413, nil, "larger than", 0},
		{"oversized snapshot", "PUT", cataloguePath, ev, strings.NewReader(huge), 413, nil, "larger than", 0},
		{"not an event", "POST", eventsPath, ev, strings.NewReader(`42`), 422, nil, "an event (a JSON object) or an array", 0},
		{"empty array", "POST", eventsPath, ev, strings.NewReader(`[]`), 422, nil, "no events", 0},
		{"unknown event type", "POST", eventsPath, ev, strings.NewReader(`{"type": "gov.egov.procedure.renamed.v1", "data": {}}`),
			422, []string{"type"}, "invalid", 0},
		{"a type units do not report", "POST", eventsPath, ev, strings.NewReader(`{"type": "gov.egov.target.set.v1", "data": {}}`),
			422, []string{"type"}, "", 0},
		{"invalid fields", "POST", eventsPath, ev,
			strings.NewReader(`{` + reg + `, "data": {` + unit + `, "procedure": "1234", "sector": "Hộ tịch", "eligible": true, "level": 7, "effective_at": "2100-01-01T00:00:00Z"}}`),
			422, []string{"data.effective_at", "data.level", "data.name", "data.procedure"}, "not stored", 0},
		{"wrong JSON types", "POST", eventsPath, ev,
			strings.NewReader(`{` + reg + `, "data": {"unit": {"kind": 1, "code": "19"}, "procedure": "1.000001", "name": "x", "sector": "y", "eligible": "có", "level": true, "effective_at": "yesterday"}}`),
			422, []string{"data.effective_at", "data.eligible", "data.level", "data.unit.kind"}, "", 0},
		{"unknown data field", "POST", eventsPath, ev, strings.NewReader(`{` + reg + `, "data": {` + data + `, "levle": 4}}`),
			422, []string{"data.level", "data.levle"}, "", 0},
		{"envelope attributes without specversion", "POST", eventsPath, ev,
			strings.NewReader(`{"id": "1", ` + reg + `, "data": {` + data + `, "level": 4}}`), 422, []string{"id"}, "", 0},
		{"data of another unit", "POST", eventsPath, ev,
			strings.NewReader(valid(&event.ProcedureRegisteredData{Unit: haNoi, Procedure: "1.000001", Name: "x", Sector: "y", Level: 2, EffectiveAt: day(0)})),
			422, []string{"data.unit"}, "", 0},
		{"one bad event of a batch", "POST", eventsPath, ev,
			strings.NewReader(`[` + valid(registered("1.000001", 2, day(0))) + `, ` + valid(changed("1.000001", 2, 2, day(1))) + `]`),
			422, []string{"[1].data.to"}, "1 of 2 events are invalid; none was stored", 0},
		{"snapshot with bad rows", "PUT", cataloguePath, ev, strings.NewReader(`{"procedures": [
			{"code": "1.000001", "name": "Đăng ký khai sinh", "sector": "Hộ tịch", "eligible": true, "level": 4},
			{"code": "1.00002", "name": "", "sector": "Hộ tịch", "eligible": "có", "level": 9},
			{"code": "1.000001", "name": "Đăng ký khai sinh", "sector": "Hộ tịch", "eligible": false, "level": "toàn trình"}]}`),
			422, []string{"procedures[1].code", "procedures[1].eligible", "procedures[1].level", "procedures[1].name", "procedures[2].code"}, "", 0},
		{"snapshot of another unit", "PUT", cataloguePath, ev,
			strings.NewReader(`{"unit": {"kind": "province", "code": "01"}, "procedures": [{"code": "1.000001", "name": "a", "sector": "b", "eligible": true, "level": 4}]}`),
			422, []string{"unit"}, "", 0},
		{"empty snapshot", "PUT", cataloguePath, ev, strings.NewReader(`{"unit": {"kind": "province", "code": "19"}, "procedures": []}`),
			422, []string{"procedures"}, "", 0},
		{"snapshot with a misspelt key", "POST", snapshotPath, ev, strings.NewReader(`{"procedure": [{"code": "1.000001"}]}`),
			422, []string{"procedure", "procedures"}, "", 0},
		{"wrong method", "GET", eventsPath, "", nil, 405, nil, "allowed: POST", 0},
		{"unknown path", "POST", "/v1/units/province/19/events/1", ev, strings.NewReader(`{}`), 404, nil, "no endpoint", 0},
	}
	for _, c := range cases {
		r := a.do(c.method, c.path, tokenThaiNguyen, c.contentType, c.body)
		if r.status != c.status {
			t.Errorf("%s: status %d, body %s; want %d", c.name, r.status, r.body, c.status)
			continue
		}
		e := r.errorBody(t)
		if got := r.fieldNames(); !slices.Equal(got, c.fields) {
			t.Errorf("%s: fields %v, want %v (body %s)", c.name, got, c.fields, r.body)
		}
		if !strings.Contains(e.Error, c.say) {
			t.Errorf("%s: error %q does not say %q", c.name, e.Error, c.say)
		}
		if c.offset != 0 && (e.Offset == nil || *e.Offset != c.offset) {
			t.Errorf("%s: offset %v, want %d", c.name, e.Offset, c.offset)
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: Content-Type %q, want JSON", c.name, ct)
		}
	}
	if n := a.stored(); n != 0 {
		t.Errorf("the stream holds %d events after refused requests, want none", n)
	}
	for _, s := range []string{
		`msg="event for another unit refused" credential=province/19:`,
		`msg="catalogue for another unit refused" credential=province/19:`, "claimed_unit=province/01",
	} {
		if !strings.Contains(a.logs.String(), s) {
			t.Errorf("the log lacks %q", s)
		}
	}
}

// Events must fit the unit's catalogue as the stream holds it.
func TestCatalogueConflicts(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	if r := a.send(http.MethodPost, eventsPath, short(registered("1.000001", 3, day(1)))); r.status != http.StatusAccepted {
		t.Fatalf("register: status %d, body %s", r.status, r.body)
	}
	cases := []struct {
		name   string
		events []event.Data
		field  string
		say    string
	}{
		{"level change of an unknown procedure", []event.Data{changed("1.009999", 3, 4, day(2))}, "data.procedure", "unknown procedure"},
		{"retirement of an unknown procedure", []event.Data{retired("1.009999", day(2))}, "data.procedure", "unknown procedure"},
		{"wrong from level", []event.Data{changed("1.000001", 2, 4, day(2))}, "data.from", "is 2, but the current level of 1.000001 is 3"},
		{"change before the latest one", []event.Data{changed("1.000001", 3, 4, day(0))}, "data.effective_at", "before the latest change"},
		{"a good change with an unknown procedure", []event.Data{changed("1.000001", 3, 4, day(2)), changed("1.009999", 3, 4, day(2))},
			"[1].data.procedure", "unknown procedure"},
		{"change after a retirement in the same batch", []event.Data{retired("1.000001", day(2)), changed("1.000001", 3, 4, day(3))},
			"[1].data.procedure", "was retired"},
	}
	for _, c := range cases {
		var body any = short(c.events[0])
		if len(c.events) > 1 {
			var b []any
			for _, d := range c.events {
				b = append(b, short(d))
			}
			body = b
		}
		r := a.send(http.MethodPost, eventsPath, body)
		if r.status != http.StatusConflict {
			t.Errorf("%s: status %d, body %s; want 409", c.name, r.status, r.body)
			continue
		}
		e := r.errorBody(t)
		if len(e.Fields) != 1 || e.Fields[0].Field != c.field || !strings.Contains(e.Fields[0].Message, c.say) {
			t.Errorf("%s: fields %+v, want one on %s saying %q", c.name, e.Fields, c.field, c.say)
		}
	}
	if n := a.stored(); n != 1 {
		t.Errorf("the stream holds %d events, want only the registration", n)
	}
	if e := a.catalogue().Procedures["1.000001"]; !e.Active || e.Level != 3 {
		t.Errorf("1.000001 is %+v, want active at level 3 still", e)
	}
}

// Two requests of one unit are checked one after the other: of two changes from the same level, one wins.
func TestConcurrentChangesOfOneProcedure(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	if r := a.send(http.MethodPost, eventsPath, short(registered("1.000001", 2, day(0)))); r.status != http.StatusAccepted {
		t.Fatalf("register: status %d, body %s", r.status, r.body)
	}
	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i, to := range []event.Level{3, 4} {
		wg.Go(func() {
			statuses[i] = a.send(http.MethodPost, eventsPath, short(changed("1.000001", 2, to, day(1)))).status
		})
	}
	wg.Wait()
	slices.Sort(statuses)
	if !slices.Equal(statuses, []int{http.StatusAccepted, http.StatusConflict}) {
		t.Errorf("statuses %v, want one 202 and one 409", statuses)
	}
	if n := a.stored(); n != 2 {
		t.Errorf("the stream holds %d events, want 2", n)
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.do(http.MethodGet, "/healthz", "", "", nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"ok"`) {
		t.Errorf("status %d, body %s; want 200 ok", r.status, r.body)
	}
}

// syncBuffer is a log sink the server's goroutines and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// clock is the handler's now, set by the test.
type clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = t
}

// A catalogue of more procedures than any unit has is refused before its procedures are read, naming the bound.
func TestCatalogueLargerThanAnyUnitsIsRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var b strings.Builder
	b.WriteString(`{"procedures": [`)
	for i := range reporting.MaxProcedures + 1 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"code":"1.%06d","name":"a","sector":"b","eligible":true,"level":1}`, i)
	}
	b.WriteString("]}")
	r := a.do(http.MethodPut, cataloguePath, tokenThaiNguyen, "application/json", strings.NewReader(b.String()))
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, body %.500s; want 422", r.status, r.body)
	}
	want := []intake.FieldError{{Field: "procedures", Message: "holds 10001 procedures, more than the 10000 a catalogue may hold (the largest province has about 2,000, the national database about 6,000 for all units)"}}
	if e := r.errorBody(t); !slices.Equal(e.Fields, want) {
		t.Errorf("fields %+v, want %+v", e.Fields, want)
	}
	if n := a.stored(); n != 0 {
		t.Errorf("the stream holds %d events, want none", n)
	}
}

// Without the stream, nothing is reported stored: the answer is 503 with Retry-After, and the client may retry as is.
func TestStreamUnavailable(t *testing.T) {
	t.Parallel()
	a := newAPI(t, func(c *intake.Config) { c.RequestTimeout = 2 * time.Second })
	a.conn.Close()
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, eventsPath, short(registered("1.000001", 3, day(0)))},
		{http.MethodPut, cataloguePath, map[string]any{"procedures": []map[string]any{
			{"code": "1.000001", "name": "Đăng ký khai sinh", "sector": "Hộ tịch", "eligible": true, "level": 4}}}},
	} {
		r := a.send(c.method, c.path, c.body)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Errorf("%s %s: status %d, Retry-After %q; want 503 with Retry-After", c.method, c.path, r.status, r.header.Get("Retry-After"))
		}
		if e := r.errorBody(t); !strings.Contains(e.Error, "retry") {
			t.Errorf("%s %s: error %q does not say to retry", c.method, c.path, e.Error)
		}
	}
	if !strings.Contains(a.logs.String(), "request failed") {
		t.Error("the failure is not logged")
	}
}

// An envelope made by the code before ids were derived from the JCS form carries the legacy rule's id: the API
// accepts it, stores it under the current id, and answers with that. And a fact the stream holds under its legacy id,
// sent again, is a re-send: nothing is stored, and the answer is the current id.
func TestLegacyIDs(t *testing.T) {
	t.Parallel()
	legacy, err := os.ReadFile("testdata/legacy-id-event.json")
	if err != nil {
		t.Fatal(err)
	}
	var sent event.Envelope
	if err := json.Unmarshal(legacy, &sent); err != nil {
		t.Fatal(err)
	}
	_, d, err := event.Decode(legacy)
	if err != nil {
		t.Fatal(err)
	}
	current := id(t, d)
	if current == sent.ID {
		t.Fatal("the fixture's id is the current rule's")
	}

	a := newAPI(t)
	r := a.do(http.MethodPost, eventsPath, tokenThaiNguyen, "application/cloudevents+json", bytes.NewReader(legacy))
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d, body %s; want 202", r.status, r.body)
	}
	if got := decode[intake.EventsResponse](t, r).IDs; !slices.Equal(got, []string{current}) {
		t.Errorf("ids %v, want the current id [%s]", got, current)
	}
	if got := a.rawIDs(sent.Subject); !slices.Equal(got, []string{current}) {
		t.Errorf("the stream holds ids %v, want [%s]", got, current)
	}

	b := newAPI(t)
	m := nats.NewMsg(sent.Subject)
	m.Data = legacy
	raw := streamtest.Dial(t, stream.Config{URL: b.conn.ClientURL()})
	if _, err := raw.JS.PublishMsg(t.Context(), m, jetstream.WithMsgID(sent.ID)); err != nil {
		t.Fatal(err)
	}
	r = b.send(http.MethodPost, eventsPath, short(d))
	if r.status != http.StatusAccepted {
		t.Fatalf("re-send: status %d, body %s; want 202", r.status, r.body)
	}
	if got := decode[intake.EventsResponse](t, r).IDs; !slices.Equal(got, []string{current}) {
		t.Errorf("re-send: ids %v, want [%s]", got, current)
	}
	if got := b.rawIDs(sent.Subject); !slices.Equal(got, []string{sent.ID}) {
		t.Errorf("after the re-send the stream holds ids %v, want only the legacy one [%s]", got, sent.ID)
	}
}

// rawIDs are the ids the events stored under subject carry, as published.
func (a *api) rawIDs(subject string) []string {
	a.t.Helper()
	var out []string
	err := a.conn.Read(a.t.Context(), subject, func(_ uint64, b []byte) error {
		var env struct{ ID string }
		if err := json.Unmarshal(b, &env); err != nil {
			return err
		}
		out = append(out, env.ID)
		return nil
	})
	if err != nil {
		a.t.Fatal(err)
	}
	return out
}
