// Package push posts egovtrack's dashboards to a running Grafana through its HTTP API, for a Grafana that does not
// read deploy/grafana's provisioning files (a hosted one, say). Grafana refuses to overwrite dashboards it provisions
// from files, so use one or the other for a given Grafana.
//
// It makes sure the folder exists (GET /api/folders/<uid>, POST /api/folders when missing), then posts every
// dashboard to POST /api/dashboards/db into that folder, overwriting the version there. Every request carries the
// token as a bearer token; the token is never logged nor put in an error.
package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/egovtrack/egovtrack/internal/secret"
)

// Config says where Grafana is; the dashboards command reads it with the prefix EGOV_GRAFANA_.
type Config struct {
	// URL is Grafana's base URL, such as https://grafana.example.gov.vn or http://127.0.0.1:3000; a sub-path
	// (https://example.gov.vn/grafana) is kept.
	URL string `env:"URL"`
	// Token is a Grafana service account token with the Editor role on the folder (or Admin to create it). It is
	// refused over plain http except to a loopback address, where anyone on the path could read it.
	Token secret.String `env:"TOKEN"`
	// Timeout bounds each request.
	Timeout time.Duration `env:"TIMEOUT" envDefault:"30s"`
}

// Validate checks that the configuration can be used.
func (c Config) Validate() error {
	var errs []error
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		errs = append(errs, errors.New("EGOV_GRAFANA_URL is empty: say where Grafana is, e.g. http://127.0.0.1:3000"))
	case err != nil:
		errs = append(errs, fmt.Errorf("EGOV_GRAFANA_URL: %w", err))
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		errs = append(errs, fmt.Errorf("EGOV_GRAFANA_URL %q: want http:// or https:// and a host", u.Redacted()))
	case c.Token != "" && u.Scheme == "http" && !loopback(u.Hostname()):
		errs = append(errs, fmt.Errorf("EGOV_GRAFANA_TOKEN would be sent in clear over http to %s; use https", u.Host))
	}
	if c.Token == "" {
		errs = append(errs, errors.New("EGOV_GRAFANA_TOKEN is empty: Grafana needs a service account token to accept dashboards"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("EGOV_GRAFANA_TIMEOUT is %s, want more than 0", c.Timeout))
	}
	return errors.Join(errs...)
}

// LogValue is what a log line shows of the configuration: the URL without any password in it, and no token.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", c.shownURL()), slog.Any("token", c.Token), slog.Duration("timeout", c.Timeout))
}

// String shows the configuration as LogValue does, so that printing it by mistake gives nothing away.
func (c Config) String() string {
	return fmt.Sprintf("{URL:%s Token:%s Timeout:%s}", c.shownURL(), c.Token, c.Timeout)
}

// GoString keeps %#v from printing the secrets either.
func (c Config) GoString() string { return "push.Config" + c.String() }

func (c Config) shownURL() string {
	u, err := url.Parse(c.URL)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Folder is the Grafana folder the dashboards go into.
type Folder struct {
	UID, Title string
}

// Dashboard is one dashboard's JSON, as provision writes it, and its uid.
type Dashboard struct {
	UID  string
	JSON []byte
}

// Result is what Grafana answered for one dashboard.
type Result struct {
	UID     string
	URL     string // where Grafana serves it, relative to its base URL
	Version int
}

// Error is a request Grafana refused: its status and Grafana's message.
type Error struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *Error) Error() string {
	return fmt.Sprintf("grafana: %s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Message)
}

// Client talks to one Grafana.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client
	log  *slog.Logger
}

// New returns a client for cfg, which it validates.
func New(cfg Config, log *slog.Logger) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, _ := url.Parse(strings.TrimRight(cfg.URL, "/")) // checked by Validate
	return &Client{cfg: cfg, base: base, http: &http.Client{Timeout: cfg.Timeout}, log: log}, nil
}

// ErrNotSaved is wrapped when a request succeeded (2xx) but the answer does not say that Grafana did what was asked:
// not Grafana's answer (a proxy's page, another service at the URL), or not about this folder or dashboard.
var ErrNotSaved = errors.New("not confirmed by Grafana")

// Push makes sure the folder exists and posts every dashboard into it, overwriting what is there, in order. A
// dashboard counts as pushed only when Grafana's answer says it saved it (status "success" and its uid). It stops at
// the first dashboard Grafana refuses or does not confirm, returning the results so far and an *Error or an error
// wrapping ErrNotSaved.
func (c *Client) Push(ctx context.Context, folder Folder, dashboards []Dashboard) ([]Result, error) {
	if err := c.ensureFolder(ctx, folder); err != nil {
		return nil, err
	}
	out := make([]Result, 0, len(dashboards))
	for _, d := range dashboards {
		body, err := json.Marshal(saveRequest{
			Dashboard: json.RawMessage(d.JSON),
			FolderUID: folder.UID,
			Overwrite: true,
			Message:   "egovtrack: go run ./dashboards push",
		})
		if err != nil {
			return out, fmt.Errorf("dashboard %s: %w", d.UID, err)
		}
		var res saveResponse
		if err := c.do(ctx, http.MethodPost, "/api/dashboards/db", body, &res); err != nil {
			return out, fmt.Errorf("dashboard %s: %w", d.UID, err)
		}
		// A 2xx is not enough: a proxy or another service at the URL answers 200 too. Grafana says what it saved.
		if res.Status != "success" || res.UID != d.UID {
			return out, fmt.Errorf("dashboard %s: %w: the answer says status %q, uid %q, not that Grafana saved it", d.UID, ErrNotSaved, res.Status, res.UID)
		}
		c.log.Info("pushed", "uid", res.UID, "url", res.URL, "version", res.Version)
		out = append(out, Result{UID: res.UID, URL: res.URL, Version: res.Version})
	}
	return out, nil
}

// saveRequest is the body of POST /api/dashboards/db.
type saveRequest struct {
	Dashboard json.RawMessage `json:"dashboard"`
	FolderUID string          `json:"folderUid"`
	Overwrite bool            `json:"overwrite"`
	Message   string          `json:"message"`
}

type saveResponse struct {
	UID     string `json:"uid"`
	URL     string `json:"url"`
	Status  string `json:"status"`
	Version int    `json:"version"`
}

// folderResponse is what Grafana answers about a folder, to GET /api/folders/<uid> and POST /api/folders.
type folderResponse struct {
	UID string `json:"uid"`
}

// ensureFolder creates the folder unless Grafana has it. Either answer must name the folder.
func (c *Client) ensureFolder(ctx context.Context, f Folder) error {
	var got folderResponse
	err := c.do(ctx, http.MethodGet, "/api/folders/"+url.PathEscape(f.UID), nil, &got)
	var gerr *Error
	switch {
	case err == nil && got.UID == f.UID:
		return nil
	case err == nil:
		return fmt.Errorf("folder %s: %w: the answer names folder %q", f.UID, ErrNotSaved, got.UID)
	case !errors.As(err, &gerr) || gerr.Status != http.StatusNotFound:
		return fmt.Errorf("folder %s: %w", f.UID, err)
	}
	body, err := json.Marshal(map[string]string{"uid": f.UID, "title": f.Title})
	if err != nil {
		return err
	}
	if err := c.do(ctx, http.MethodPost, "/api/folders", body, &got); err != nil {
		return fmt.Errorf("create folder %s: %w", f.UID, err)
	}
	if got.UID != f.UID {
		return fmt.Errorf("create folder %s: %w: the answer names folder %q", f.UID, ErrNotSaved, got.UID)
	}
	c.log.Info("folder created", "uid", f.UID, "title", f.Title)
	return nil
}

// maxErrorBody bounds how much of an error answer is read for its message.
const maxErrorBody = 64 << 10

// do sends one request with the token and decodes a 2xx answer's JSON into out (when not nil). Any other answer is
// an *Error carrying Grafana's message.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Token.Reveal())
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// The client's errors name the URL, never the headers.
		return fmt.Errorf("grafana: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		var msg struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &msg) != nil || msg.Message == "" {
			msg.Message = strings.TrimSpace(string(b))
		}
		return &Error{Method: method, Path: path, Status: resp.StatusCode, Message: msg.Message}
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("grafana: %s %s: read the answer: %w", method, path, err)
	}
	return nil
}
