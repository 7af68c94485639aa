package natsauth

import (
	"slices"

	"github.com/nats-io/nats-server/v2/server"
)

// api is the prefix of JetStream's API subjects (no JetStream domain).
const api = "$JS.API"

// InboxPrefix is the prefix of the inboxes a credential's connection receives replies on: publish acks, consumer
// deliveries, API responses. Each credential has its own, derived from its public key (stream.Connect sets it), and
// may subscribe to nothing else, so that no credential can listen to the replies another one receives, as it could
// on a shared _INBOX.>. A client in another language must set it too (internal/event/publishing.md): with the default
// prefix it never receives JetStream's acknowledgements.
func InboxPrefix(key string) string { return "_INBOX." + key }

// Permissions is what u may publish and subscribe to:
//
//   - every credential subscribes to its own inboxes only (InboxPrefix), where replies come;
//   - a unit, intake and office publish events on the subjects of Submits, and read them back with ordered consumers
//     filtered on them: JetStream's consumer create subject carries the filter
//     ($JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>), so the server checks the filter before the consumer
//     exists, and refuses the unfiltered form; consumer info and next-message requests are by consumer name, whose
//     ephemeral names are random, while every name the projector uses or may use (ReservedDurables) is denied to them;
//   - office also creates the stream and looks at it. It may not update it: JetStream creates a stream that exists
//     only with the configuration it has, so the office can neither shrink, seal nor re-configure it;
//   - projector looks at the stream, creates, reads, acks and (for a rebuild, or to take back a name another made)
//     deletes its durable consumers, and publishes nothing else: no event, no stream deletion or purge;
//   - operator, when the model has one, makes every JetStream request.
//
// No credential but the operator's, which the model holds only when asked to, may update, seal, delete or purge the
// stream, or delete a message. allow_responses is not needed: no credential answers requests; JetStream's replies
// come to the requester's inbox.
func (m *Model) Permissions(u User) *server.Permissions {
	s := m.Stream
	var allow, deny []string
	switch u.Role {
	case Unit, Intake, Office:
		allow = append(allow, u.Submits()...)
		for _, p := range u.Reads() {
			allow = append(allow, api+".CONSUMER.CREATE."+s+".*."+p)
		}
		allow = append(allow, api+".CONSUMER.INFO."+s+".*", api+".CONSUMER.MSG.NEXT."+s+".*")
		if u.Role == Office {
			allow = append(allow, api+".STREAM.CREATE."+s, api+".STREAM.INFO."+s)
		}
		deny = m.reserved()
	case Projector:
		allow = []string{api + ".STREAM.INFO." + s}
		for _, durable := range m.Durables() {
			d := s + "." + durable
			allow = append(allow,
				api+".CONSUMER.CREATE."+d,
				api+".CONSUMER.INFO."+d,
				api+".CONSUMER.MSG.NEXT."+d,
				api+".CONSUMER.DELETE."+d,
				// A start takes back what a crashed run left unacknowledged (projector/consumer's resume).
				api+".CONSUMER.RESET."+d,
				// Acks, in the reply subjects' two formats: $JS.ACK.<stream>.<consumer>.… and, with the server's v2
				// format, $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.…
				"$JS.ACK."+d+".>",
				"$JS.ACK.*.*."+d+".>",
			)
		}
	case Operator:
		allow = []string{api + ".>"}
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: allow, Deny: deny},
		Subscribe: &server.SubjectPermission{Allow: []string{InboxPrefix(u.Key) + ".>"}},
	}
}

// reserved are the requests on the projector's consumers (ReservedDurables) denied to every other credential: to
// create one, filtered or not, to look at it, and to take its messages.
func (m *Model) reserved() []string {
	var out []string
	for _, durable := range m.ReservedDurables() {
		d := m.Stream + "." + durable
		out = append(out, api+".CONSUMER.CREATE."+d+".>", api+".CONSUMER.INFO."+d, api+".CONSUMER.MSG.NEXT."+d)
	}
	return out
}

// users are the model's users and, when it has one, the operator.
func (m *Model) users() []User {
	if m.Operator == "" {
		return m.Users
	}
	return append(slices.Clip(m.Users), User{Name: OperatorName, Role: Operator, Key: m.Operator})
}

// Configure gives an embedded server's options the model's users, each with its permissions: the same users that
// WriteConfig writes for a real server.
func (m *Model) Configure(opts *server.Options) {
	users := m.users()
	opts.Nkeys = make([]*server.NkeyUser, 0, len(users))
	for _, u := range users {
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: u.Key, Permissions: m.Permissions(u)})
	}
}
