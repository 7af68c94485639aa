// Package natsauth is egovtrack's NATS authorisation model, derived from the unit reference data (internal/units):
//
//   - one credential per ministry and province, which may publish events only under its own subjects
//     (egov.<kind>.<code>.>) and read back, through JetStream, only those subjects;
//   - intake, for the intake API (collectors serve), which speaks for any unit whose token it has checked, and signs
//     each event on behalf of that token (Credential.SignOnBehalf), so that the projector records the token and
//     accepts the event on that unit's subjects only;
//   - office, for the digital office's tools (collectors simulate, imports), which may publish any event and create
//     the stream, but not change it once it exists;
//   - projector, which consumes the stream through its durable consumer and may neither publish an event nor delete
//     or purge anything;
//   - operator, only when one is asked for (Model.Operator): an operator's own credential, for the acts no service may
//     do, such as changing the stream's replicas. It is no signer: what it publishes is quarantined.
//
// A credential is a NATS user nkey. The model holds public keys only: Model.Configure gives an embedded server its
// users, Model.WriteConfig writes the same users as a real nats-server's authorisation section (`go run ./deploy/nats
// generate`), and Model.Authorise is what the projector checks each event against, since every publisher signs what
// it publishes with its key (Credential.Sign). Seeds live in files, one per credential, written by EnsureKeys with
// mode 0600, and are read by LoadCredential; they never enter the model, a log or an error.
package natsauth

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/internal/units"
)

// Role is what a credential is for.
type Role string

const (
	// Unit is a ministry's or a province's own credential.
	Unit Role = "unit"
	// Intake is the intake API's: it publishes for the unit whose token a request carries.
	Intake Role = "intake"
	// Office is the digital office's: the simulation, imports on a unit's behalf, the stream's settings.
	Office Role = "office"
	// Projector consumes the stream into ClickHouse.
	Projector Role = "projector"
	// Operator is a person's, for an act on the stream that no service may do (deploy/nats/README.md, "Changing the
	// stream"). The generated authorisation has it only while one is asked for.
	Operator Role = "operator"
)

// The names of the credentials that are not a unit's. A unit's credential is named after the unit: province/19.
const (
	OfficeName    = "office"
	IntakeName    = "intake"
	ProjectorName = "projector"
	// OperatorName is the operator's credential, which Names does not list: it signs no event, and the generated
	// authorisation holds it only while an operator is at work (Model.Operator).
	OperatorName = "operator"
)

// User is one credential of the model.
type User struct {
	// Name is "province/19", "ministry/BTTTT", "office", "intake" or "projector": what events.submitted_by records.
	// For an event the intake signed on behalf of a token, Authorise returns the intake's User named after the
	// token, "intake:province/19:1a2b3c4d".
	Name string
	Role Role
	// Unit is the unit a credential of role Unit speaks for, or, from Authorise, the unit of the token the intake
	// signed for.
	Unit units.Ref
	// Key is the credential's public user nkey, "U…".
	Key string
}

// Names lists every credential the model has, in the order the files list them: one per unit of the reference data,
// as units.csv and later.csv order them, then office, intake and projector.
func Names() []string {
	var out []string
	for _, u := range units.Every() {
		out = append(out, u.Ref.String())
	}
	return append(out, OfficeName, IntakeName, ProjectorName)
}

// Model is every credential and what it may do on one stream.
type Model struct {
	// Stream is the JetStream stream's name (EGOV_NATS_STREAM).
	Stream string
	// Durable is the projector's durable consumer (EGOV_PROJECTOR_DURABLE): no other credential may create, read
	// from or look at it.
	Durable string
	// Partitions is how many projector instances share the stream (EGOV_PROJECTOR_PARTITION k/n): each consumes
	// through a durable of its own (PartitionDurable), which the projector may use and nobody else. 0 or 1: one.
	Partitions int
	// Users are in the order of Names.
	Users []User
	// Retired are the credentials of units merged away into others (gov.egov.unit.merged.v1), by name: the server
	// no longer lets them connect, while their keys stay among the signers, so that what they signed before still
	// verifies.
	Retired map[string]bool
	// Operator, when not empty, is the public key of an operator's credential, allowed every JetStream request: the
	// stream's changes that no other credential may make. Not one of Users: it signs no event, and the projector,
	// which verifies against Users, quarantines whatever it publishes.
	Operator string

	byKey map[string]int
	// verifiers are the users' public keys, parsed once for Authorise.
	verifiers []nkeys.KeyPair
}

// New builds the model from the public key of every credential, name → key (ReadKeys). Every name of Names must have
// a public user nkey, no key may serve two credentials, and a name that is not one of Names is an error (a unit
// removed from units.csv: drop its line).
func New(keys map[string]string, stream, durable string) (*Model, error) {
	switch {
	case !validToken(stream):
		return nil, fmt.Errorf("stream name %q cannot be a NATS subject token", stream)
	case !validToken(durable):
		return nil, fmt.Errorf("durable consumer name %q cannot be a NATS subject token", durable)
	}
	names := Names()
	var errs []error
	for name := range keys {
		if !slices.Contains(names, name) {
			errs = append(errs, fmt.Errorf("%s is not a credential of the model (a unit not in units.csv?)", name))
		}
	}
	m := &Model{Stream: stream, Durable: durable, byKey: map[string]int{}}
	for _, name := range names {
		key, ok := keys[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s has no public key", name))
			continue
		}
		kp, err := nkeys.FromPublicKey(key)
		switch {
		case strings.HasPrefix(key, "S"):
			// Never quoted: it is a secret in the wrong place.
			errs = append(errs, fmt.Errorf("%s: the key looks like a seed, a SECRET: remove it from the public keys and make a new key (-rekey %s)", name, name))
			continue
		case err != nil || !nkeys.IsValidPublicUserKey(key):
			errs = append(errs, fmt.Errorf("%s: %q is not a public user nkey (U…)", name, clip(key)))
			continue
		}
		if other, dup := m.byKey[key]; dup {
			errs = append(errs, fmt.Errorf("%s and %s have the same key", m.Users[other].Name, name))
			continue
		}
		u, err := parseName(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		u.Key = key
		m.byKey[key] = len(m.Users)
		m.Users = append(m.Users, u)
		m.verifiers = append(m.verifiers, kp)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("authorisation model: %w", err)
	}
	return m, nil
}

// Lookup returns the credential whose public key is key.
func (m *Model) Lookup(key string) (User, bool) {
	i, ok := m.byKey[key]
	if !ok {
		return User{}, false
	}
	return m.Users[i], true
}

// User returns the credential named name.
func (m *Model) User(name string) (User, bool) {
	for _, u := range m.Users {
		if u.Name == name {
			return u, true
		}
	}
	return User{}, false
}

func parseName(name string) (User, error) {
	switch name {
	case OfficeName:
		return User{Name: name, Role: Office}, nil
	case IntakeName:
		return User{Name: name, Role: Intake}, nil
	case ProjectorName:
		return User{Name: name, Role: Projector}, nil
	}
	kind, code, ok := strings.Cut(name, "/")
	ref := units.Ref{Kind: units.Kind(kind), Code: code}
	if _, known := units.Lookup(ref); !ok || !known {
		return User{}, fmt.Errorf("%q is not a credential name (kind/code of a unit, office, intake or projector)", name)
	}
	return User{Name: name, Role: Unit, Unit: ref}, nil
}

// Submits returns the subjects u may publish events on, as NATS subject patterns: the server enforces them when the
// event is published, and the projector again when it is consumed (MaySubmit).
func (u User) Submits() []string {
	switch u.Role {
	case Unit:
		return []string{event.UnitPrefix(u.Unit)}
	case Intake:
		return unitKindPatterns()
	case Office:
		return []string{event.SubjectRoot + ".>"}
	}
	return nil
}

// Reads returns the subjects u may read back from the stream with a filtered consumer (stream.Read): its own.
// The projector reads the whole stream through its durable consumer instead.
func (u User) Reads() []string { return u.Submits() }

// MaySubmit reports whether u may publish an event on subject.
func (u User) MaySubmit(subject string) bool {
	for _, p := range u.Submits() {
		if server.SubjectMatchesFilter(subject, p) {
			return true
		}
	}
	return false
}

// unitKindPatterns are the subjects of every unit, kind by kind (egov.province.*.>, egov.ministry.*.>): national
// targets are not among them.
func unitKindPatterns() []string {
	var out []string
	for _, u := range units.All() {
		p := event.SubjectRoot + "." + string(u.Kind) + ".*.>"
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// validToken reports whether s can be one token of a subject: a stream's or a consumer's name.
func validToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".*> \t\r\n\"") && server.IsValidLiteralSubject(s)
}

// MaxPartitions is the most projector instances that may share the stream (EGOV_PROJECTOR_PARTITION k/n, n at most
// this). The durable consumers of every partitioning up to it are reserved for the projector (ReservedDurables): NATS
// permissions match whole subject tokens, so the names are listed one by one (136 of them), in a list every other
// credential is denied. 16 instances take five or six of the 85 units each.
const MaxPartitions = 16

// PartitionDurable is the durable consumer of the k-th of n projector instances: base itself when there is one, so a
// change of n starts fresh consumers rather than reusing ones filtered differently. projector/consumer names its
// consumers with it, and the model allows exactly these names.
func PartitionDurable(base string, k, n int) string {
	if n <= 1 {
		return base
	}
	return fmt.Sprintf("%s-%d-of-%d", base, k, n)
}

// Durables are the projector's durable consumers: one, or one per partition.
func (m *Model) Durables() []string {
	if m.Partitions <= 1 {
		return []string{m.Durable}
	}
	out := make([]string, 0, m.Partitions)
	for k := 1; k <= m.Partitions; k++ {
		out = append(out, PartitionDurable(m.Durable, k, m.Partitions))
	}
	return out
}

// ReservedDurables are the consumer names no credential but the projector may create, read from or look at: the
// durable, and the partition durables of every n up to MaxPartitions, so that a unit cannot take the name of a
// partition before the projector is scaled out to it (projector-1-of-2 while one projector runs). A name outside them
// (another EGOV_PROJECTOR_DURABLE, later) is the projector's to take back: it deletes a consumer it did not make.
func (m *Model) ReservedDurables() []string {
	out := []string{m.Durable}
	for n := 2; n <= MaxPartitions; n++ {
		for k := 1; k <= n; k++ {
			out = append(out, PartitionDurable(m.Durable, k, n))
		}
	}
	return out
}
