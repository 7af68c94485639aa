package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Written is what a write did besides storing the batch.
type Written struct {
	// Skipped counts the records whose events the raw log already held (redeliveries, repeats within the batch).
	Skipped int
	// Refused are the records the store could not write, whatever it tried, quarantined with why: a value
	// ClickHouse refuses, a time its columns cannot hold. The rest of their batch is written.
	Refused []Rejected
}

// errAppend marks an error of the client's, clickhouse-go, refusing a value for its column before anything is sent.
var errAppend = errors.New("a value the column does not take")

// refusingCodes are ClickHouse's error codes for a value it will never accept, however often it is sent: what a row
// holds, not how the server is. Anything else (a timeout, a lost connection, memory, too many parts, a table that
// is missing) may pass later, and is retried.
var refusingCodes = []int32{
	6,   // CANNOT_PARSE_TEXT
	26,  // CANNOT_PARSE_QUOTED_STRING
	27,  // CANNOT_PARSE_INPUT_ASSERTION_FAILED
	36,  // BAD_ARGUMENTS
	38,  // CANNOT_PARSE_DATE
	41,  // CANNOT_PARSE_DATETIME
	53,  // TYPE_MISMATCH
	69,  // ARGUMENT_OUT_OF_BOUND
	70,  // CANNOT_CONVERT_TYPE
	72,  // CANNOT_PARSE_NUMBER
	117, // INCORRECT_DATA
	131, // TOO_LARGE_STRING_SIZE
	321, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
	349, // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
}

// Refusing reports whether err says that a value will never be accepted, as opposed to ClickHouse being unable to
// take it now: the store's own refusal of a time the tables cannot hold, the client's of a value for its column,
// and ClickHouse's of what a row holds (refusingCodes).
func Refusing(err error) bool {
	if errors.Is(err, ErrUnstorable) || errors.Is(err, errAppend) {
		return true
	}
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && slices.Contains(refusingCodes, ex.Code)
}

// isolate finds, after the batch fresh was refused with cause, the records that ClickHouse (or the store) refuses,
// writes the rest, and returns the refused. It halves the batch: when both halves are refused, the fault is not
// one event's (a table changed under the store, say) and the write fails with cause, to be retried and shown in the
// health, rather than quarantine a whole batch; otherwise each refused half is halved again, down to single records.
// Two refused events, one in each half, look the same as a fault of the whole: the batch then waits on an operator,
// as any other failure. Quarantined messages are written first, on their own.
func (s *Store) isolate(ctx context.Context, fresh []Record, rejected []Rejected, cause error) ([]Rejected, error) {
	if err := s.writeFresh(ctx, nil, rejected); err != nil {
		return nil, err
	}
	if len(fresh) == 1 {
		return []Rejected{refused(fresh[0], cause)}, nil
	}
	a, b := fresh[:len(fresh)/2], fresh[len(fresh)/2:]
	errA := s.writeFresh(ctx, a, nil)
	if errA != nil && !Refusing(errA) {
		return nil, errA
	}
	errB := s.writeFresh(ctx, b, nil)
	if errB != nil && !Refusing(errB) {
		return nil, errB
	}
	if errA != nil && errB != nil {
		return nil, fmt.Errorf("every part of a batch of %d was refused, so not for one event: %w", len(fresh), cause)
	}
	var out []Rejected
	for _, part := range []struct {
		recs []Record
		err  error
	}{{a, errA}, {b, errB}} {
		if part.err == nil {
			continue
		}
		r, err := s.halve(ctx, part.recs, part.err)
		if err != nil {
			return nil, err
		}
		out = append(out, r...)
	}
	return out, nil
}

// halve finds the records of recs, which were refused together with cause, that are refused alone, and writes the
// others.
func (s *Store) halve(ctx context.Context, recs []Record, cause error) ([]Rejected, error) {
	if len(recs) == 1 {
		return []Rejected{refused(recs[0], cause)}, nil
	}
	var out []Rejected
	for _, part := range [][]Record{recs[:len(recs)/2], recs[len(recs)/2:]} {
		err := s.writeFresh(ctx, part, nil)
		switch {
		case err == nil:
		case !Refusing(err):
			return nil, err
		default:
			r, err := s.halve(ctx, part, err)
			if err != nil {
				return nil, err
			}
			out = append(out, r...)
		}
	}
	return out, nil
}

// refused is r, which could not be written for err, as a quarantined message.
func refused(r Record, err error) Rejected {
	payload, _ := json.Marshal(r.Env) // the event as decoded: the message's own bytes are not kept
	return Rejected{Seq: r.Seq, Subject: r.Env.Subject, Payload: payload, Reason: "refused by the store: " + err.Error(), ReceivedAt: r.ReceivedAt}
}
