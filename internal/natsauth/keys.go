package natsauth

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nkeys"

	"github.com/egovtrack/egovtrack/internal/units"
)

// The public keys file (deploy/nats/nkeys.txt) lists every credential's public key, one per line: its name and its
// public user nkey, separated by spaces; '#' starts a comment. It is public: the server's configuration is generated
// from it, and the projector verifies signatures with it (EGOV_PROJECTOR_SIGNERS_FILE).

// ReadKeys reads a public keys file into name → key. A name listed twice is an error.
func ReadKeys(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("public keys: %w", err)
	}
	defer f.Close()
	keys := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0:
			continue
		case len(fields) != 2:
			return nil, fmt.Errorf("public keys %s line %d: want a name and a public key", path, n)
		case keys[fields[0]] != "":
			return nil, fmt.Errorf("public keys %s line %d: %s is listed twice", path, n, fields[0])
		}
		keys[fields[0]] = fields[1]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("public keys %s: %w", path, err)
	}
	return keys, nil
}

// LoadModel reads a public keys file and builds the model on it (see New).
func LoadModel(path, stream, durable string) (*Model, error) {
	keys, err := ReadKeys(path)
	if err != nil {
		return nil, err
	}
	m, err := New(keys, stream, durable)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// WriteKeys writes keys as a public keys file, in the order of Names.
func WriteKeys(path string, keys map[string]string) error {
	var b bytes.Buffer
	b.WriteString("# The public key of every egovtrack NATS credential: its name and its user nkey. Public: the seeds stay with\n")
	b.WriteString("# each credential's holder. `go run ./deploy/nats generate` writes it, and auth.conf from it.\n")
	for _, name := range Names() {
		if k, ok := keys[name]; ok {
			fmt.Fprintf(&b, "%-16s %s\n", name, k)
		}
	}
	return writeFile(path, b.Bytes(), 0o644)
}

// SeedFile is the file of dir that holds the seed of the credential name: province-19.nk, office.nk.
func SeedFile(dir, name string) string {
	return filepath.Join(dir, strings.ReplaceAll(name, "/", "-")+".nk")
}

// EnsureKeys gives every credential of Names a key, and returns name → public key after writing keysFile:
//
//   - a credential whose seed is in secretsDir takes that seed's public key;
//   - one without a seed there keeps the key keysFile lists (its seed is held elsewhere: a province may make its own
//     and send only its public key);
//   - one with neither, or named by rekey, gets a new seed, written to secretsDir with mode 0600.
//
// rekey may be nil. Each change is reported on report, one line each, naming the seed file, never its content.
func EnsureKeys(keysFile, secretsDir string, rekey func(name string) bool, report io.Writer) (map[string]string, error) {
	listed, err := ReadKeys(keysFile)
	if errors.Is(err, fs.ErrNotExist) {
		listed, err = map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(secretsDir, 0o700); err != nil {
		return nil, fmt.Errorf("secrets dir: %w", err)
	}
	keys := map[string]string{}
	for _, name := range Names() {
		file := SeedFile(secretsDir, name)
		if rekey == nil || !rekey(name) {
			c, err := LoadCredential(file)
			switch {
			case err == nil:
				keys[name] = c.PublicKey()
				c.Wipe()
				if old, ok := listed[name]; ok && old != keys[name] {
					fmt.Fprintf(report, "%s: public key taken from its seed %s, replacing the one listed\n", name, file)
				}
				continue
			case !errors.Is(err, fs.ErrNotExist):
				return nil, err
			}
			if k, ok := listed[name]; ok {
				keys[name] = k
				continue
			}
		}
		k, err := newSeed(file, name)
		if err != nil {
			return nil, err
		}
		keys[name] = k
		fmt.Fprintf(report, "%s: new key, seed in %s\n", name, file)
	}
	for name := range listed {
		if _, ok := keys[name]; !ok {
			fmt.Fprintf(report, "%s: no longer a credential of the model (not in units.csv), dropped\n", name)
		}
	}
	if err := WriteKeys(keysFile, keys); err != nil {
		return nil, err
	}
	return keys, nil
}

// EnsureOperatorKey returns the public key of the operator's credential, whose seed is OperatorName's file in
// secretsDir, made (mode 0600, reported on report) when there is none. Delete the file for a new key.
func EnsureOperatorKey(secretsDir string, report io.Writer) (string, error) {
	file := SeedFile(secretsDir, OperatorName)
	c, err := LoadCredential(file)
	if err == nil {
		defer c.Wipe()
		return c.PublicKey(), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(secretsDir, 0o700); err != nil {
		return "", fmt.Errorf("secrets dir: %w", err)
	}
	k, err := newSeed(file, OperatorName)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(report, "%s: new key, seed in %s\n", OperatorName, file)
	return k, nil
}

// newSeed makes a user nkey for name, writes its seed to file (0600) and returns its public key.
func newSeed(file, name string) (string, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", fmt.Errorf("new key for %s: %w", name, err)
	}
	defer kp.Wipe()
	seed, err := kp.Seed()
	if err != nil {
		return "", fmt.Errorf("new key for %s: %w", name, err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return "", fmt.Errorf("new key for %s: %w", name, err)
	}
	var b bytes.Buffer
	what := name
	if u, err := parseName(name); err == nil && u.Role == Unit {
		un, _ := units.Lookup(u.Unit)
		what += " (" + un.Name + ")"
	}
	if name == OperatorName {
		fmt.Fprintf(&b, "# egovtrack NATS credential of an operator. SECRET: whoever holds this file may change, seal, purge or delete\n")
		fmt.Fprintln(&b, "# the stream while the server's authorisation lists it. Hand it to no service; delete it when done.")
	} else {
		fmt.Fprintf(&b, "# egovtrack NATS credential of %s. SECRET: whoever holds this file publishes as %s.\n", what, name)
		fmt.Fprintln(&b, "# Keep it out of git, readable by the process that uses it alone (EGOV_NATS_NKEY_SEED_FILE).")
	}
	fmt.Fprintf(&b, "%s %s\n", credentialLine, name)
	b.Write(seed)
	b.WriteByte('\n')
	wipe(seed)
	err = writeFile(file, b.Bytes(), 0o600)
	wipe(b.Bytes())
	if err != nil {
		return "", err
	}
	return pub, nil
}

// credentialLine names the credential in its seed file, so that the publisher can say who it is.
const credentialLine = "# credential:"

// Credential is one credential's key pair, read from its seed file: it answers the server's challenge when a
// connection authenticates, and signs every event published on it. Its String and LogValue show its name and public
// key, never the seed.
type Credential struct {
	// Name is the credential's name from its seed file ("# credential: province/19"); empty when the file has none
	// (a seed made with another tool), and then the projector names it from the public keys file.
	Name string
	key  string
	kp   nkeys.KeyPair
}

// LoadCredential reads a user nkey seed file: the seed (SU…) on a line of its own, '#' comment lines around it. An
// error names the file, never its content; a missing file's error matches fs.ErrNotExist.
func LoadCredential(path string) (*Credential, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nkey seed file: %w", err)
	}
	defer wipe(b)
	kp, err := nkeys.ParseDecoratedNKey(b)
	if err != nil {
		return nil, fmt.Errorf("nkey seed file %s: no user seed in it: %w", path, err)
	}
	key, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(key) {
		kp.Wipe()
		return nil, fmt.Errorf("nkey seed file %s: not a user seed (SU…)", path)
	}
	c := &Credential{key: key, kp: kp}
	for line := range strings.Lines(string(b)) {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), credentialLine); ok {
			c.Name = strings.TrimSpace(name)
			break
		}
	}
	return c, nil
}

// PublicKey is the credential's public user nkey.
func (c *Credential) PublicKey() string { return c.key }

// SignNonce answers the server's authentication challenge (nats.Nkey's callback).
func (c *Credential) SignNonce(nonce []byte) ([]byte, error) { return c.kp.Sign(nonce) }

// Wipe erases the seed from memory; the credential cannot sign afterwards.
func (c *Credential) Wipe() { c.kp.Wipe() }

// String is the credential's name and public key.
func (c *Credential) String() string {
	if c.Name == "" {
		return c.key
	}
	return c.Name + " (" + c.key + ")"
}

// LogValue logs the credential's name and public key.
func (c *Credential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", c.Name), slog.String("key", c.key))
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 'x'
	}
}

// writeFile writes a file whole or not at all: a temporary file renamed over it.
func writeFile(path string, b []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
