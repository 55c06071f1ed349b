package verify

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestReadLayerBounded: a small compressed layer that inflates past the limit is refused,
// one within it is read whole.
func TestReadLayerBounded(t *testing.T) {
	zeros := bytes.Repeat([]byte{0}, 1<<20)
	bomb, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(zeros)), nil })
	if err != nil {
		t.Fatal(err)
	}
	if size, _ := bomb.Size(); size > 1<<12 {
		t.Fatalf("compressed layer of %d bytes: not a small one", size)
	}
	tests := []struct {
		name    string
		limit   int64
		wantErr string
	}{
		{"over the limit", 1 << 16, "larger than 65536 bytes"},
		{"at the limit", 1 << 20, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := readLayer(bomb, tt.limit, "the layer")
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("readLayer = %d bytes, %v; want an error saying %q", len(b), err, tt.wantErr)
			case tt.wantErr == "" && (err != nil || len(b) != len(zeros)):
				t.Errorf("readLayer = %d bytes, %v; want all %d", len(b), err, len(zeros))
			}
		})
	}
	plain := static.NewLayer([]byte(`{"payload":""}`), types.MediaType("application/vnd.dsse.envelope.v1+json"))
	if b, err := readLayer(plain, 64, "the layer"); err != nil || string(b) != `{"payload":""}` {
		t.Errorf("readLayer(plain) = %q, %v", b, err)
	}
}

// TestLimitedBodyFailsPastTheLimit: reading past the limit is an error, not a quiet cut.
func TestLimitedBodyFailsPastTheLimit(t *testing.T) {
	for _, n := range []int{9, 10, 11, 100} {
		body := &limitedBody{rc: io.NopCloser(bytes.NewReader(bytes.Repeat([]byte("x"), n))), left: 10, err: &TooLargeError{URL: "u", Limit: 10}}
		b, err := io.ReadAll(body)
		if n <= 10 && (err != nil || len(b) != n) {
			t.Errorf("%d bytes under a limit of 10: read %d, %v", n, len(b), err)
		}
		if n > 10 && (err == nil || len(b) > 10) {
			t.Errorf("%d bytes over a limit of 10: read %d, %v; want an error after at most 10", n, len(b), err)
		}
	}
}
