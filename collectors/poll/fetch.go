package poll

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/egovtrack/egovtrack/internal/retry"
)

// userAgent names the poller to portal operators reading their access logs.
const userAgent = "egovtrack-poll/1 (+https://github.com/egovtrack/egovtrack)"

// Errors a poll can end with; match them with errors.Is. Each is wrapped with the details.
var (
	// ErrStatus: the portal answered a status other than 200 or 304 (see StatusError for which).
	ErrStatus = errors.New("portal answered an error status")
	// ErrContentType: the answer is not JSON.
	ErrContentType = errors.New("portal answered something other than JSON")
	// ErrTooLarge: the document is larger than EGOV_POLL_MAX_BODY.
	ErrTooLarge = errors.New("document larger than the configured maximum")
	// ErrMalformed: the document is not the JSON catalogue README.md describes.
	ErrMalformed = errors.New("document is not a catalogue")
	// ErrWrongUnit: the document is about another unit than the one this poller reports for.
	ErrWrongUnit = errors.New("document is about another unit")
	// ErrInvalidRows: procedures of the document are invalid (see RowsError for which).
	ErrInvalidRows = errors.New("document has invalid procedures")
)

// StatusError is an answer with an unexpected HTTP status.
type StatusError struct {
	Code int
	// Body is the start of the answer, for the log: portals often explain there.
	Body string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("portal answered %d %s", e.Code, http.StatusText(e.Code))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Is makes errors.Is(err, ErrStatus) true.
func (e *StatusError) Is(target error) bool { return target == ErrStatus }

// validators are what the portal said identifies the document it served: its ETag, else its Last-Modified.
type validators struct {
	etag, lastModified string
}

func (v validators) empty() bool { return v.etag == "" && v.lastModified == "" }

// logAttr shows the validator a conditional request was made with.
func (v validators) logAttr() slog.Attr {
	if v.etag != "" {
		return slog.String("etag", v.etag)
	}
	return slog.String("last_modified", v.lastModified)
}

// fetched is one successful answer: 304, or a JSON body with its validators.
type fetched struct {
	notModified bool
	body        []byte
	validators  validators
}

// attemptError is a failed attempt, and whether trying again can help.
type attemptError struct {
	err   error
	retry bool
	after time.Duration // the portal's Retry-After, when it gave one
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// fetch asks the portal for the catalogue, conditionally when cond is not empty, and retries what may pass: network
// errors, timeouts, 429 and 5xx, waiting an exponential backoff with jitter (internal/retry), or the portal's
// Retry-After when it gives one.
func (p *Poller) fetch(ctx context.Context, cond validators) (fetched, error) {
	f, attempts, err := retry.Do(ctx, retry.Policy{Initial: p.cfg.Backoff, Max: p.cfg.MaxBackoff, Attempts: uint(p.cfg.Retries) + 1},
		func(ctx context.Context) (fetched, error) {
			f, err := p.attempt(ctx, cond)
			var ae *attemptError
			switch {
			case err == nil:
				return f, nil
			case ctx.Err() != nil || !errors.As(err, &ae) || !ae.retry:
				return f, retry.Permanent(err)
			case ae.after > p.cfg.MaxBackoff:
				return f, retry.Permanent(fmt.Errorf("portal asks to retry after %s, longer than %sMAX_BACKOFF (%s): %w",
					ae.after, EnvPrefix, p.cfg.MaxBackoff, err))
			case ae.after > 0:
				return f, retry.After(ae.after, err)
			}
			return f, err
		}, func(attempt int, err error, wait time.Duration) {
			p.log.Warn("poll attempt failed, retrying", "unit", p.cfg.Unit.String(), "attempt", attempt, "wait", wait, "err", err)
		})
	var ae *attemptError
	switch {
	case err == nil:
		return f, nil
	case ctx.Err() != nil && !errors.As(err, &ae):
		return fetched{}, fmt.Errorf("waiting to retry: %w", ctx.Err())
	case attempts > 1 && attempts > p.cfg.Retries && errors.As(err, &ae) && ae.retry:
		return fetched{}, fmt.Errorf("after %d attempts: %w", attempts, err)
	}
	return fetched{}, err
}

// attempt is one request, bounded by Timeout from sending to the body's last byte.
func (p *Poller) attempt(ctx context.Context, cond validators) (fetched, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.URL, nil)
	if err != nil {
		return fetched{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if p.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+p.cfg.Token.Reveal())
	}
	switch {
	case cond.etag != "":
		req.Header.Set("If-None-Match", cond.etag)
	case cond.lastModified != "":
		req.Header.Set("If-Modified-Since", cond.lastModified)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		// Network errors and timeouts are worth another try. (The client's error names the URL with its password,
		// if any, redacted.)
		return fetched{}, &attemptError{err: p.timedOut(ctx, fmt.Errorf("request: %w", err)), retry: true}
	}
	defer resp.Body.Close()

	switch {
	case resp.StatusCode == http.StatusNotModified:
		if cond.empty() {
			return fetched{}, &attemptError{err: fmt.Errorf("%w: 304 Not Modified to an unconditional request", ErrStatus)}
		}
		return fetched{notModified: true}, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fetched{}, &attemptError{err: statusError(resp), retry: true, after: retryAfter(resp.Header.Get("Retry-After"))}
	case resp.StatusCode != http.StatusOK:
		return fetched{}, &attemptError{err: statusError(resp)}
	}

	if err := checkJSON(resp.Header.Get("Content-Type")); err != nil {
		return fetched{}, err
	}
	if resp.ContentLength > p.cfg.MaxBody {
		return fetched{}, fmt.Errorf("%w: Content-Length %d bytes, limit %d (%sMAX_BODY)", ErrTooLarge, resp.ContentLength, p.cfg.MaxBody, EnvPrefix)
	}
	// One byte more than the limit tells a document of exactly MaxBody bytes from a larger one, without reading
	// the rest of a runaway answer.
	body, err := io.ReadAll(io.LimitReader(resp.Body, p.cfg.MaxBody+1))
	if err != nil {
		return fetched{}, &attemptError{err: p.timedOut(ctx, fmt.Errorf("read body: %w", err)), retry: true}
	}
	if int64(len(body)) > p.cfg.MaxBody {
		return fetched{}, fmt.Errorf("%w: more than %d bytes (%sMAX_BODY)", ErrTooLarge, p.cfg.MaxBody, EnvPrefix)
	}
	return fetched{body: body, validators: validators{resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")}}, nil
}

// timedOut says so when err is the attempt's own deadline, naming the setting to raise.
func (p *Poller) timedOut(attemptCtx context.Context, err error) error {
	if errors.Is(attemptCtx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no complete answer within %s (%sTIMEOUT): %w", p.cfg.Timeout, EnvPrefix, err)
	}
	return err
}

// checkJSON accepts application/json and the +json types (application/vnd.x+json); a portal answering HTML has
// most likely served a login or error page with status 200.
func checkJSON(ct string) error {
	mt, params, err := mime.ParseMediaType(ct)
	switch {
	case ct == "":
		return fmt.Errorf("%w: no Content-Type", ErrContentType)
	case err != nil:
		return fmt.Errorf("%w: Content-Type %q: %v", ErrContentType, ct, err)
	case mt != "application/json" && !strings.HasSuffix(mt, "+json"):
		return fmt.Errorf("%w: Content-Type %q", ErrContentType, ct)
	case params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8"):
		return fmt.Errorf("%w: charset %q, JSON must be UTF-8", ErrContentType, params["charset"])
	}
	return nil
}

// statusError reads the start of an error answer, printable and short.
func statusError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	s := strings.Join(strings.Fields(string(b)), " ")
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	return &StatusError{Code: resp.StatusCode, Body: s}
}

// retryAfter reads Retry-After, in seconds or as an HTTP date; 0 when absent or unreadable.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		// Clamped so that an absurd value cannot overflow a Duration; anything this long ends the poll anyway.
		return time.Duration(min(max(s, 0), 1<<31)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
