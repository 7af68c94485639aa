// Command nats generates egovtrack's NATS authorisation from the unit reference data (internal/units/units.csv):
// a user nkey per ministry and province, and the office, intake and projector credentials, each with its
// permissions (internal/natsauth).
//
//	go run ./deploy/nats generate [flags]
//
// It writes, in deploy/nats:
//
//	nkeys.txt   the public key of every credential (committed; the projector's EGOV_PROJECTOR_SIGNERS_FILE)
//	auth.conf   the authorization block that nats-server.conf includes (committed)
//
// and a seed file for every credential that has no key yet, or that -rekey names, in the secrets directory
// (deploy/nats/secrets by default, which git ignores): hand each to its credential's holder, who points
// EGOV_NATS_NKEY_SEED_FILE at it. A credential whose seed is not there keeps the key nkeys.txt lists: a province may
// make its own key (`nk -gen user`) and send only the public half to add to nkeys.txt.
//
// The credentials of units merged into others (the 2025 reorganisation shipped in collectors/lineage, or -lineage
// FILE) are retired from the day of the merger on (-on, default today): auth.conf lets them no longer connect, while
// nkeys.txt keeps their keys, so that what they signed before still verifies. Generate again on the day of a merger.
//
// With -check it writes nothing, and fails when auth.conf is not what nkeys.txt and units.csv give (for CI, after
// units.csv changes).
//
// With -operator it adds to auth.conf an operator's credential (seed secrets/operator.nk), allowed every JetStream
// request: for an act on the stream that no service's credential may do, such as changing its replicas. Generate
// again without it when the operator is done, and reload the server: the credential is then refused.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/egovtrack/egovtrack/collectors/lineage"
	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/natsauth"
)

const usage = `usage: go run ./deploy/nats generate [flags]

Writes deploy/nats/nkeys.txt (public keys) and deploy/nats/auth.conf (the server's authorization, included by
deploy/nats/nats-server.conf) from internal/units/units.csv; new seeds go to the secrets directory, never to git.
`

func main() {
	if len(os.Args) < 2 || os.Args[1] != "generate" {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	g, err := parseFlags(os.Args[2:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if err := g.run(os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "deploy/nats generate: %v\n", err)
		os.Exit(1)
	}
}

// generator is `generate` with its flags.
type generator struct {
	dir, secrets    string
	stream, durable string
	partitions      int
	rekey           []string // names, or "all"
	check           bool
	operator        bool
	lineage         string    // a lineage file (collectors/lineage); empty: the 2025 reorganisation
	on              time.Time // the day whose units may connect: those merged away by then are retired
}

func parseFlags(args []string, stderr io.Writer) (*generator, error) {
	g := &generator{}
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage+"\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&g.dir, "dir", "deploy/nats", "where nkeys.txt and auth.conf are")
	fs.StringVar(&g.secrets, "secrets", filepath.Join("deploy", "nats", "secrets"), "where new seeds are written, mode 0600 (keep it out of git)")
	fs.StringVar(&g.stream, "stream", "EGOV", "the stream's name (EGOV_NATS_STREAM)")
	fs.StringVar(&g.durable, "durable", "projector", "the projector's durable consumer (EGOV_PROJECTOR_DURABLE)")
	fs.IntVar(&g.partitions, "partitions", 1, "how many projector instances share the stream (EGOV_PROJECTOR_PARTITION k/n): each gets its durable consumer")
	rekey := fs.String("rekey", "", `new keys for these credentials: names separated by commas ("province/19,office"), or "all"`)
	fs.BoolVar(&g.check, "check", false, "write nothing; fail if auth.conf is not what nkeys.txt and units.csv give")
	fs.BoolVar(&g.operator, "operator", false, "add an operator's credential (seed operator.nk in the secrets directory), allowed to change the stream: for an operator at work, never for a service")
	fs.StringVar(&g.lineage, "lineage", "", "the reorganisations (a file of unit events, as collectors lineage publishes); default the 2025 one shipped with egovtrack")
	on := fs.String("on", "", "retire the credentials of units merged away by this day, YYYY-MM-DD (default today in Vietnam)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *on != "" {
		d, err := event.Date(*on).Time()
		if err != nil {
			fmt.Fprintf(stderr, "-on %q: a day YYYY-MM-DD\n", *on)
			return nil, errors.New("on")
		}
		g.on = d
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		fs.Usage()
		return nil, errors.New("arguments")
	}
	if *rekey != "" {
		g.rekey = strings.Split(*rekey, ",")
		for _, n := range g.rekey {
			if n != "all" && !slices.Contains(natsauth.Names(), n) {
				fmt.Fprintf(stderr, "-rekey: %q is not a credential (kind/code of a unit, office, intake or projector)\n", n)
				return nil, errors.New("rekey")
			}
		}
	}
	if g.partitions < 1 || g.partitions > natsauth.MaxPartitions {
		fmt.Fprintf(stderr, "-partitions %d: from 1 to %d projectors\n", g.partitions, natsauth.MaxPartitions)
		return nil, errors.New("partitions")
	}
	if g.check && (len(g.rekey) > 0 || g.operator) {
		fmt.Fprintln(stderr, "-check writes nothing: it cannot -rekey or add an -operator")
		return nil, errors.New("check and rekey")
	}
	return g, nil
}

const source = "internal/units/units.csv and deploy/nats/nkeys.txt"

func (g *generator) keysFile() string { return filepath.Join(g.dir, "nkeys.txt") }
func (g *generator) confFile() string { return filepath.Join(g.dir, "auth.conf") }

func (g *generator) run(out io.Writer) error {
	// The directory must be there already, holding nats-server.conf that includes auth.conf: made up from the
	// relative default in another working directory, it would get keys and a configuration no server reads.
	if fi, err := os.Stat(g.dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("-dir %s is not a directory here: run from the repository's root, or pass -dir", g.dir)
	}
	if g.check {
		return g.verify(out)
	}
	rekey := func(name string) bool { return slices.Contains(g.rekey, "all") || slices.Contains(g.rekey, name) }
	keys, err := natsauth.EnsureKeys(g.keysFile(), g.secrets, rekey, out)
	if err != nil {
		return err
	}
	m, err := natsauth.New(keys, g.stream, g.durable)
	if err != nil {
		return err
	}
	m.Partitions = g.partitions
	if m.Retired, err = g.retired(); err != nil {
		return err
	}
	if g.operator {
		if m.Operator, err = natsauth.EnsureOperatorKey(g.secrets, out); err != nil {
			return err
		}
	}
	if err := m.WriteConfigFile(g.confFile(), source); err != nil {
		return err
	}
	fmt.Fprintf(out, "%d credentials (%d retired, merged away by %s): wrote %s and %s; seeds are in %s (never commit them)\n",
		len(m.Users), len(m.Retired), g.on.Format(time.DateOnly), g.keysFile(), g.confFile(), g.secrets)
	if g.operator {
		fmt.Fprintf(out, "With the operator's credential, until you generate again without -operator: for the nats command,\n"+
			"  --nkey %s --inbox-prefix %s\n", natsauth.SeedFile(g.secrets, natsauth.OperatorName), natsauth.InboxPrefix(m.Operator))
	}
	// Written is not in force: the server reads auth.conf when it starts or reloads.
	fmt.Fprintf(out, "A running nats-server goes on with the old keys until it reloads: nats-server --signal reload (systemctl reload egov-nats);\n"+
		"in the compose stack restart it, docker compose restart nats (its auth.conf is mounted as a file, which a reload does not read again).\n")
	return nil
}

// verify compares auth.conf with what the public keys give.
// retired are the credentials of the units merged into others on or before g.on (today when not set), by the
// lineage file's mergers.
func (g *generator) retired() (map[string]bool, error) {
	if g.on.IsZero() {
		g.on = time.Now().In(event.Vietnam)
	}
	var envs []event.Envelope
	var err error
	if g.lineage == "" {
		envs, err = lineage.Read(bytes.NewReader(lineage.Reorganisation2025))
	} else {
		f, ferr := os.Open(g.lineage)
		if ferr != nil {
			return nil, fmt.Errorf("-lineage: %w", ferr)
		}
		defer f.Close()
		envs, err = lineage.Read(f)
	}
	if err != nil {
		return nil, fmt.Errorf("-lineage: %w", err)
	}
	out := map[string]bool{}
	for _, env := range envs {
		d, err := env.UncheckedData() // checked by lineage.Read
		if err != nil {
			return nil, err
		}
		m, ok := d.(*event.UnitMergedData)
		if !ok {
			continue
		}
		day, err := m.EffectiveOn.Time()
		if err != nil || day.After(g.on) {
			continue
		}
		for _, p := range m.Predecessors {
			if p != m.Successor {
				out[p.String()] = true
			}
		}
	}
	return out, nil
}

func (g *generator) verify(out io.Writer) error {
	m, err := natsauth.LoadModel(g.keysFile(), g.stream, g.durable)
	if err != nil {
		return err
	}
	m.Partitions = g.partitions
	if m.Retired, err = g.retired(); err != nil {
		return err
	}
	var want bytes.Buffer
	if err := m.WriteConfig(&want, source); err != nil {
		return err
	}
	got, err := os.ReadFile(g.confFile())
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want.Bytes()) {
		return fmt.Errorf("%s is not what %s gives: run `go run ./deploy/nats generate`", g.confFile(), source)
	}
	fmt.Fprintf(out, "%s is up to date: %d credentials\n", g.confFile(), len(m.Users))
	return nil
}
