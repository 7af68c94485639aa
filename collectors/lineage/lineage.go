// Package lineage publishes a reorganisation of the reporting units: a file of unit events (merged, renamed), one a
// line, each the short form {"type": …, "data": …} that the intake API also takes. The digital office writes it (or
// uses the one shipped for 2025, Reorganisation2025); every line is checked against the contract before the first
// is published, so that a file with one bad line publishes nothing. Publishing it again changes nothing: an event's
// id is derived from its fact, and the projector stores each id once.
package lineage

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/event/strictjson"
	"github.com/egovtrack/egovtrack/internal/stream"
)

// Reorganisation2025 is the 2025 reorganisation (shared/DOMAIN.md has the sources): 22 ministries and agencies into
// 17 from 1 March 2025 (Resolution 176/2025/QH15), 63 provinces into 34 from 1 July 2025 (Resolution 202/2025/QH15;
// codes by Decision 19/2025/QĐ-TTg), and Thừa Thiên Huế become the city of Huế from 1 January 2025. Where a
// ministry's procedures went in part to another ministry is not published reliably, so no procedure is moved.
//
//go:embed reorganisation-2025.jsonl
var Reorganisation2025 []byte

// Source is the CloudEvents source of the events published from a lineage file.
const Source = "/egovtrack/collectors/lineage"

// Limits of a file: a reorganisation is tens of events; a line is one event, at most event.MaxSize bytes. Every
// line counts, blank and comment ones too, so that time and memory stay bounded whatever the file holds.
const (
	maxLines = 10_000
	maxLine  = event.MaxSize
	maxBytes = 8 << 20 // 8 MiB: far more than a reorganisation of every unit
)

// types are the event types a lineage file may hold.
var types = map[event.Type]bool{event.UnitMerged: true, event.UnitRenamed: true}

// Read reads a lineage file and returns its events, in file order, or an error naming the first bad line and the
// fields it breaks. Blank lines and lines starting with # are skipped.
func Read(r io.Reader) ([]event.Envelope, error) {
	limited := &io.LimitedReader{R: r, N: maxBytes + 1}
	sc := bufio.NewScanner(limited)
	sc.Buffer(make([]byte, 0, 4096), maxLine+1)
	var out []event.Envelope
	seen := map[string]int{}
	line := 0
	for sc.Scan() {
		line++
		if line > maxLines {
			return nil, fmt.Errorf("line %d: more than %d lines: a reorganisation is a few dozen events", line, maxLines)
		}
		if limited.N <= 0 {
			return nil, fmt.Errorf("line %d: the file is over %d bytes: a reorganisation is a few dozen events", line, maxBytes)
		}
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		env, err := parse(b)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if first, ok := seen[env.ID]; ok {
			return nil, fmt.Errorf("line %d: the same fact as line %d", line, first)
		}
		seen[env.ID] = line
		out = append(out, env)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than %d bytes, the most an event may take", line+1, maxLine)
		}
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("no event in the file")
	}
	return out, nil
}

// parse reads one line: strict JSON (no duplicate key, valid UTF-8), the short form's two fields, data of a unit
// event type with no unknown field, then the contract's checks.
func parse(b []byte) (event.Envelope, error) {
	if _, err := strictjson.Read(b); err != nil {
		return event.Envelope{}, err
	}
	var short struct {
		Type event.Type      `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := strict(b, &short); err != nil {
		return event.Envelope{}, fmt.Errorf(`%w (a line is {"type": …, "data": …})`, err)
	}
	if !types[short.Type] {
		return event.Envelope{}, fmt.Errorf("type: %q is not a unit event (%s or %s)", short.Type, event.UnitMerged, event.UnitRenamed)
	}
	d, _ := event.NewData(short.Type)
	if err := strict(short.Data, d); err != nil {
		return event.Envelope{}, fmt.Errorf("data: %w", err)
	}
	env, err := event.New(Source, d)
	if err != nil {
		return event.Envelope{}, err
	}
	return env, nil
}

func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// Publish publishes envs and says what JetStream stored, only once it has acknowledged every one.
func Publish(ctx context.Context, pub stream.Publisher, envs []event.Envelope, out io.Writer, log *slog.Logger) error {
	res, err := pub.Publish(ctx, envs, nil)
	if err != nil {
		return fmt.Errorf("published %d of %d unit events before: %w", res.Stored+res.Duplicates, len(envs), err)
	}
	log.Info("unit events published", "events", len(envs), "stored", res.Stored, "already_in_stream", res.Duplicates)
	fmt.Fprintf(out, "%d unit events acknowledged by JetStream: %d stored, %d already there\n", len(envs), res.Stored, res.Duplicates)
	return nil
}
