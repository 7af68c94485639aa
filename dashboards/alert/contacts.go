package alert

import (
	"bufio"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/alerting"
	"github.com/grafana/grafana-foundation-sdk/go/cog"

	"github.com/egovtrack/egovtrack/internal/units"
)

// Who is told, by the names of the contacts file (see ReadContacts).
const (
	OfficeContact    = "office"    // the digital office: what concerns the country, and a daily digest of the units'
	OperatorsContact = "operators" // whoever runs egovtrack: the pipeline
)

// Receivers, the contact points' names.
const (
	OfficeReceiver    = "egov-office"
	OperatorsReceiver = "egov-operators"
)

// UnitReceiver is the contact point of a unit's focal point.
func UnitReceiver(u units.Ref) string { return "egov-unit-" + string(u.Kind) + "-" + u.Code }

// Contacts are the e-mail addresses alerts go to: the office's, the operators' and each unit focal point's that has
// one (a unit without is chased by the office, through its digest).
type Contacts struct {
	Office, Operators []string
	Units             map[units.Ref][]string
}

// ReadContacts reads a contacts file: one line per recipient, its name (office, operators, or a unit as kind/code:
// province/19, ministry/BTTTT), then its e-mail addresses, separated by spaces or commas; '#' starts a comment. The
// office and the operators are required; a name given twice, an unknown unit or an address that is not one is an
// error naming its line. The file holds people's addresses: keep it out of the repository (deploy/secrets/).
func ReadContacts(r io.Reader, name string) (Contacts, error) {
	c := Contacts{Units: map[units.Ref][]string{}}
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
		if len(fields) == 0 {
			continue
		}
		who, addrs := fields[0], fields[1:]
		if prev, ok := seen[who]; ok {
			return Contacts{}, fmt.Errorf("%s line %d: %s is given on line %d already", name, n, who, prev)
		}
		seen[who] = n
		if len(addrs) == 0 {
			return Contacts{}, fmt.Errorf("%s line %d: %s has no e-mail address", name, n, who)
		}
		for _, a := range addrs {
			if p, err := mail.ParseAddress(a); err != nil || p.Address != a {
				return Contacts{}, fmt.Errorf("%s line %d: %q is not an e-mail address (write it bare: name@example.gov.vn)", name, n, a)
			}
		}
		switch who {
		case OfficeContact:
			c.Office = addrs
		case OperatorsContact:
			c.Operators = addrs
		default:
			kind, code, _ := strings.Cut(who, "/")
			ref := units.Ref{Kind: units.Kind(kind), Code: code}
			if _, ok := units.Lookup(ref); !ok {
				return Contacts{}, fmt.Errorf("%s line %d: %q is neither office, operators nor a unit of units.csv (kind/code: province/19)", name, n, who)
			}
			c.Units[ref] = addrs
		}
	}
	if err := sc.Err(); err != nil {
		return Contacts{}, fmt.Errorf("%s: %w", name, err)
	}
	if len(c.Office) == 0 || len(c.Operators) == 0 {
		return Contacts{}, fmt.Errorf("%s: the office and the operators must each have a line: alerts without them reach no one", name)
	}
	return c, nil
}

// ContactsFile is the alerting provisioning file of contact points and the notification policy.
type ContactsFile struct {
	APIVersion    int                 `json:"apiVersion"`
	ContactPoints []ContactPointGroup `json:"contactPoints"`
	Policies      []Policy            `json:"policies"`
}

// ContactPointGroup is a contact point as Grafana provisions it from a file: a name, and its integrations (the SDK's
// contact points).
type ContactPointGroup struct {
	OrgID     int64                   `json:"orgId"`
	Name      string                  `json:"name"`
	Receivers []alerting.ContactPoint `json:"receivers"`
}

// Policy is the notification policy tree of an organisation, as Grafana provisions it from a file.
type Policy struct {
	OrgID int64 `json:"orgId"`
	alerting.NotificationPolicy
}

// Routing builds the contact points and the policy for c:
//
//   - the pipeline's alerts (audience operators) go to the operators, every 4 hours while they last;
//   - the country's (audience office) to the office, daily;
//   - each unit's reminder (audience units) to its focal point, daily, and to the office in one daily digest of all
//     units' reminders, grouped by rule, whether or not the unit has a focal point.
func Routing(c Contacts) (ContactsFile, error) {
	email := func(receiver string, addrs []string) (ContactPointGroup, error) {
		cp, err := alerting.NewContactPointBuilder().
			Uid(receiver).
			Name(receiver).
			Type(alerting.ContactPointTypeEmail).
			Settings(map[string]any{
				"addresses":   strings.Join(addrs, ";"),
				"singleEmail": true,
				"subject":     `{{ template "egov.subject" . }}`,
				"message":     `{{ template "egov.message" . }}`,
			}).
			DisableResolveMessage(false).
			Build()
		if err != nil {
			return ContactPointGroup{}, fmt.Errorf("contact point %s: %w", receiver, err)
		}
		return ContactPointGroup{OrgID: 1, Name: receiver, Receivers: []alerting.ContactPoint{cp}}, nil
	}
	var f ContactsFile
	f.APIVersion = 1
	refs := slices.SortedFunc(func(yield func(units.Ref) bool) {
		for r := range c.Units {
			if !yield(r) {
				return
			}
		}
	}, func(a, b units.Ref) int { return strings.Compare(a.String(), b.String()) })
	for _, cp := range []struct {
		name  string
		addrs []string
	}{{OfficeReceiver, c.Office}, {OperatorsReceiver, c.Operators}} {
		g, err := email(cp.name, cp.addrs)
		if err != nil {
			return ContactsFile{}, err
		}
		f.ContactPoints = append(f.ContactPoints, g)
	}
	route := func(receiver, repeat string, matchers ...[]string) cog.Builder[alerting.NotificationPolicy] {
		om := alerting.ObjectMatchers{}
		for _, m := range matchers {
			om = append(om, alerting.ObjectMatcher(m))
		}
		return alerting.NewNotificationPolicyBuilder().Receiver(receiver).ObjectMatchers(om).RepeatInterval(repeat)
	}
	routes := []cog.Builder[alerting.NotificationPolicy]{
		route(OperatorsReceiver, "4h", []string{"audience", "=", AudienceOperators}),
		route(OfficeReceiver, "24h", []string{"audience", "=", AudienceOffice}),
		// The office's daily digest of every unit's reminders, one message per rule; then each unit's own.
		route(OfficeReceiver, "24h", []string{"audience", "=", AudienceUnits}).(*alerting.NotificationPolicyBuilder).
			GroupBy([]string{"alertname"}).GroupInterval("24h").Continue(true),
	}
	for _, r := range refs {
		g, err := email(UnitReceiver(r), c.Units[r])
		if err != nil {
			return ContactsFile{}, err
		}
		f.ContactPoints = append(f.ContactPoints, g)
		routes = append(routes, route(UnitReceiver(r), "24h", []string{"audience", "=", AudienceUnits},
			[]string{"unit_kind", "=", string(r.Kind)}, []string{"unit_code", "=", r.Code}).(*alerting.NotificationPolicyBuilder).
			GroupBy([]string{"alertname", "unit_kind", "unit_code"}))
	}
	root, err := alerting.NewNotificationPolicyBuilder().
		Receiver(OfficeReceiver).
		GroupBy([]string{"grafana_folder", "alertname"}).
		GroupWait("30s").
		GroupInterval("5m").
		RepeatInterval("4h").
		Routes(routes).
		Build()
	if err != nil {
		return ContactsFile{}, fmt.Errorf("notification policy: %w", err)
	}
	f.Policies = []Policy{{OrgID: 1, NotificationPolicy: root}}
	return f, nil
}
