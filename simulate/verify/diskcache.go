package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// diskCacheFormat goes into every key and every entry: changing what a key covers or how a
// result is stored means bumping it, and old entries then simply stop matching.
const diskCacheFormat = "kubectl-verify/verification-cache/v1"

// DefaultDiskCacheTTL is how long a cached pass is reused: Kyverno's default
// imageVerifyCacheTTLDuration (60m), how long Kyverno itself reuses a verification.
const DefaultDiskCacheTTL = time.Hour

// DiskCache keeps passed verifications on disk, so that a later run asking the same question
// of the same image digest skips the signature reads and cryptography. Only passes are kept:
// a failure may be cured by a signature pushed later, and a registry fault must never come
// back as anything but a fault. Safe for concurrent use by several Verifiers and processes:
// every entry is written whole under a temporary name and renamed into place. Expired entries
// are not pruned: the same question rewrites its own.
type DiskCache struct {
	dir string
	ttl time.Duration
	now func() time.Time
}

// OpenDiskCache prepares dir for entries younger than ttl: it is created (0700) when missing
// and must take a new file. The error says why it cannot serve; the run then goes on without.
func OpenDiskCache(dir string, ttl time.Duration) (*DiskCache, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("cache TTL %s: must be positive", ttl)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// A directory we cannot write into would fail every store silently: find out now.
	probe, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return nil, err
	}
	probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return nil, err
	}
	return &DiskCache{dir: dir, ttl: ttl, now: time.Now}, nil
}

// diskEntry is one file. Format repeats the key's version so that an entry is never read
// with another layout even if a key were reused.
type diskEntry struct {
	Format  string          `json:"format"`
	Created time.Time       `json:"created"`
	Result  json.RawMessage `json:"result"`
}

// path is the file for the key material: its sha256, so that no key text (keys,
// certificates, secret names) needs escaping and every name has the same length.
func (d *DiskCache) path(material string) string {
	sum := sha256.Sum256([]byte(material))
	return filepath.Join(d.dir, hex.EncodeToString(sum[:])+".json")
}

// load fills out from a fresh entry. Anything else (no file, unreadable, corrupt, another
// format, expired, dated in the future) is a miss: the check is then simply made again.
func (d *DiskCache) load(material string, out any) bool {
	raw, err := os.ReadFile(d.path(material))
	if err != nil {
		return false
	}
	var e diskEntry
	if json.Unmarshal(raw, &e) != nil || e.Format != diskCacheFormat || len(e.Result) == 0 {
		return false
	}
	if age := d.now().Sub(e.Created); age < 0 || age >= d.ttl {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(e.Result))
	// A field this version does not know means the entry is not one it wrote.
	dec.DisallowUnknownFields()
	return dec.Decode(out) == nil
}

// store writes an entry atomically: a reader sees the old file or the new one, never half.
// A failed write is dropped: the answer in hand is right either way, and OpenDiskCache has
// already warned about a directory that cannot be written at all.
func (d *DiskCache) store(material string, result any) {
	body, err := json.Marshal(result)
	if err != nil {
		return
	}
	raw, err := json.Marshal(diskEntry{Format: diskCacheFormat, Created: d.now().UTC(), Result: body})
	if err != nil {
		return
	}
	// CreateTemp makes the file 0600, in the same directory so that the rename is atomic.
	tmp, err := os.CreateTemp(d.dir, ".entry-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(raw)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), d.path(material)) != nil {
		os.Remove(tmp.Name())
	}
}

// What is not kept on disk, because the key cannot cover what the outcome depends on:
//   - k8s://namespace/name keys: the key is whatever the Secret holds at the time, and reading
//     the Secret to key the entry would cost the request the cache is there to save;
//   - certificates judged at the current time (no log entry or timestamp fixes the signing
//     time): the pass ends when a certificate expires, which the entry does not know.

func usesSecretKey(keys ...string) bool {
	return slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(strings.TrimSpace(k), "k8s://") })
}

func (c SignatureCheck) diskCacheable() bool {
	certificates := c.Keyless || c.Roots != "" || c.Certificate != "" || c.CertificateChain != "" || len(c.Identities) > 0
	return !usesSecretKey(c.PublicKey) && (!certificates || c.Tlog || c.TSACertChain != "")
}

// Without a key, log or observer timestamp, bundles are verified at the current time.
func (c BundleCheck) diskCacheable() bool {
	return !usesSecretKey(c.PublicKey) && (c.PublicKey != "" || c.Tlog || c.SCT)
}

func (c KubewardenKeyCheck) diskCacheable() bool { return !usesSecretKey(c.PubKeys...) }

// fingerprint names the trust root's content for cache keys: a check verified against one
// --trusted-root says nothing about another.
func (t *TrustRoot) fingerprint() string {
	if t == nil {
		return "none"
	}
	// The log keys come from maps in the parsed root: sort them so the same root always
	// gives the same text.
	rekor, ct := slices.Sorted(slices.Values(t.RekorKeysPEM)), slices.Sorted(slices.Values(t.CTLogKeysPEM))
	return fmt.Sprintf("%s %q %q %q", t.sum, t.FulcioPEM, rekor, ct)
}

// diskCached answers a check through v's disk cache, when there is one: kind names the
// question (two questions may take the same check type), image and auth are the check's, and
// keyed returns the check with its image replaced by the digest reference given. A tag is
// resolved first, live, through the run's resolution memo, so that an entry is only ever
// found under the digest the tag names now. Whatever goes wrong on the way (no parse, no
// resolution) falls back to compute, which then meets the same problem and reports it as it
// always does.
func diskCached[T any](ctx context.Context, v *Verifier, kind, image string, auth Auth, keyed func(digestRef string) any, compute func() (T, error)) (T, error) {
	if v.disk == nil {
		return compute()
	}
	ref, err := name.ParseReference(image, v.reg.nameOptions(image)...)
	if err != nil {
		return compute()
	}
	digest := ref.Identifier()
	if _, isTag := ref.(name.Tag); isTag {
		if digest, err = v.resolve(ctx, ref, auth); err != nil {
			return compute()
		}
	}
	// Name() is the canonical form (registry and library/ made explicit, no tag), so the
	// ways of writing one digest share an entry.
	material := fmt.Sprintf("%s\x00%s\x00%#v\x00%s", diskCacheFormat, kind, keyed(ref.Context().Digest(digest).Name()), v.Trust.fingerprint())
	var cached T
	if v.disk.load(material, &cached) {
		return cached, nil
	}
	res, err := compute()
	if err == nil {
		v.disk.store(material, res)
	}
	return res, err
}
