package intake

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/egovtrack/egovtrack/internal/units"
)

// Tokens are the bearer tokens that may report, each bound to one unit. Only their SHA-256 hashes are held: a copy
// of the tokens file, or of this process's memory, does not let anyone report. The zero value accepts no token.
type Tokens struct {
	creds []credential
}

type credential struct {
	unit units.Ref
	hash [sha256.Size]byte
}

// id names a credential in logs without revealing it: its unit and the first 8 hex digits of its hash, which tell
// a rotated token from its successor but say nothing usable about a random token.
func (c credential) id() string { return c.unit.String() + ":" + c.tokenID() }

// tokenID is the part of id that tells a unit's tokens apart.
func (c credential) tokenID() string { return hex.EncodeToString(c.hash[:4]) }

// MinTokenLength is the shortest token RunHashToken accepts: 32 hex digits are 128 random bits, beyond guessing.
// `openssl rand -hex 32` gives 64.
const MinTokenLength = 32

// HashToken returns the hex SHA-256 of a token, as the tokens file holds it. A plain (unsalted, fast) hash is enough
// because tokens are long random strings, not passwords people choose.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ParseTokens reads a tokens file: one token a line, "kind/code sha256hex" (the unit it reports for and the hash of
// the token, as HashToken gives it). Blank lines and lines starting with # are ignored. A unit may have several
// lines, so that a new token can be issued before the old one is withdrawn; a hash may appear only once, since one
// token speaking for two units would make neither accountable. Every problem is returned, line by line.
func ParseTokens(r io.Reader) (Tokens, error) {
	var (
		t    Tokens
		errs []error
		seen = map[[sha256.Size]byte]int{}
	)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bad := func(format string, a ...any) {
			errs = append(errs, fmt.Errorf("line %d: "+format, append([]any{n}, a...)...))
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			bad("want \"kind/code sha256hex\", got %d fields", len(f))
			continue
		}
		kind, code, _ := strings.Cut(f[0], "/")
		unit := units.Ref{Kind: units.Kind(kind), Code: code}
		if _, ok := units.Lookup(unit); !ok {
			bad("%q is not a known unit (kind/code, like province/19)", f[0])
			continue
		}
		raw, err := hex.DecodeString(strings.ToLower(f[1]))
		if err != nil || len(raw) != sha256.Size {
			// The value is not echoed: someone may have pasted a token where its hash belongs.
			bad("the second field is not a SHA-256 in hex (64 digits); store `collectors serve hash-token` output, never the token")
			continue
		}
		c := credential{unit: unit, hash: [sha256.Size]byte(raw)}
		if first, dup := seen[c.hash]; dup {
			bad("the same token hash as line %d", first)
			continue
		}
		seen[c.hash] = n
		t.creds = append(t.creds, c)
	}
	if err := sc.Err(); err != nil {
		return Tokens{}, fmt.Errorf("read tokens: %w", err)
	}
	if err := errors.Join(errs...); err != nil {
		return Tokens{}, err
	}
	return t, nil
}

// LoadTokens reads the tokens file at path (see ParseTokens). A file without any token is an error: a server no
// unit can report to is a misconfiguration.
func LoadTokens(path string) (Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return Tokens{}, fmt.Errorf("tokens file: %w", err)
	}
	defer f.Close()
	t, err := ParseTokens(f)
	if err != nil {
		return Tokens{}, fmt.Errorf("tokens file %s: %w", path, err)
	}
	if len(t.creds) == 0 {
		return Tokens{}, fmt.Errorf("tokens file %s: no tokens", path)
	}
	return t, nil
}

// Units returns the units that have at least one token, in file order.
func (t Tokens) Units() []units.Ref {
	var out []units.Ref
	seen := map[units.Ref]bool{}
	for _, c := range t.creds {
		if !seen[c.unit] {
			seen[c.unit] = true
			out = append(out, c.unit)
		}
	}
	return out
}

// lookup finds the credential of a presented token. Every stored hash is compared, in constant time, whether or
// not an earlier one matched, so that the time taken says nothing about which hashes are near the presented one.
func (t Tokens) lookup(token string) (credential, bool) {
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i, c := range t.creds {
		if subtle.ConstantTimeCompare(c.hash[:], sum[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return credential{}, false
	}
	return t.creds[found], true
}

// RunHashToken is `collectors serve hash-token [kind/code]`: it reads a token from the first line of in and writes
// its hash to out, or, given a unit, the whole line of the tokens file for it. Reading the token from stdin keeps it
// out of the shell history and the process list:
//
//	openssl rand -hex 32 > province-19.token
//	collectors serve hash-token province/19 < province-19.token >> tokens.txt
func RunHashToken(in io.Reader, out io.Writer, args []string) error {
	if len(args) > 1 {
		return errors.New("hash-token: too many arguments; usage: collectors serve hash-token [kind/code] < token-file")
	}
	var unit units.Ref
	if len(args) == 1 {
		kind, code, _ := strings.Cut(args[0], "/")
		unit = units.Ref{Kind: units.Kind(kind), Code: code}
		if _, ok := units.Lookup(unit); !ok {
			return fmt.Errorf("hash-token: %q is not a known unit (kind/code, like province/19)", args[0])
		}
	}
	line, err := bufio.NewReader(io.LimitReader(in, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("hash-token: read the token: %w", err)
	}
	token := strings.TrimSpace(line)
	if len(token) < MinTokenLength {
		return fmt.Errorf("hash-token: the token has %d characters, want at least %d random ones (openssl rand -hex 32)", len(token), MinTokenLength)
	}
	if unit.Code != "" {
		_, err = fmt.Fprintf(out, "%s %s\n", unit, HashToken(token))
	} else {
		_, err = fmt.Fprintln(out, HashToken(token))
	}
	if err != nil {
		return fmt.Errorf("hash-token: %w", err)
	}
	return nil
}
