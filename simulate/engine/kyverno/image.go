package kyverno

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// imageInfo is Kyverno's pkg/utils/image.ImageInfo plus where the image sits in the object.
type imageInfo struct {
	Registry, Path, Tag, Digest string
	Pointer                     string
	// Raw is the string as written in the manifest.
	Raw string
	// key names the image among a custom extractor's findings ("" = its pointer).
	key string
}

// String is the canonical form Kyverno matches, reports and annotates: the tag is dropped
// when a digest is present (spec/kyverno.md §2.2).
func (i imageInfo) String() string {
	image := i.Path
	if i.Registry != "" {
		image = i.Registry + "/" + i.Path
	}
	if i.Digest != "" {
		return image + "@" + i.Digest
	}
	return image + ":" + i.Tag
}

// parseImage is GetImageInfo: default registry prepended without `library/`, parsed with
// reference.Parse (not ParseNormalizedNamed), tag `latest` when neither tag nor digest.
func parseImage(image string, cfg Config) (imageInfo, error) {
	full := addDefaultRegistry(image, cfg.DefaultRegistry)
	ref, err := reference.Parse(full)
	if err != nil {
		return imageInfo{}, fmt.Errorf("bad image: %s, defaultRegistry: %s, enableDefaultRegistryMutation: %t: %w", full, cfg.DefaultRegistry, cfg.EnableDefaultRegistryMutation, err)
	}
	var info imageInfo
	if named, ok := ref.(reference.Named); ok {
		info.Registry = reference.Domain(named)
		info.Path = reference.Path(named)
	}
	if tagged, ok := ref.(reference.Tagged); ok {
		info.Tag = tagged.Tag()
	}
	if digested, ok := ref.(reference.Digested); ok {
		info.Digest = digested.Digest().String()
	}
	if info.Digest == "" && info.Tag == "" {
		info.Tag = "latest"
	}
	if full != image && !cfg.EnableDefaultRegistryMutation {
		info.Registry = ""
	}
	parts := strings.Split(info.Path, "/")
	if len(parts) > 1 && info.Registry == "" && strings.Contains(parts[0], "_") {
		info.Registry = parts[0]
		info.Path = strings.Join(parts[1:], "/")
	}
	info.Raw = image
	return info, nil
}

func addDefaultRegistry(name, registry string) string {
	i := strings.IndexRune(name, '/')
	if i == -1 || (!strings.ContainsAny(name[:i], ".:") && name[:i] != "localhost" && strings.ToLower(name[:i]) == name[:i]) {
		return registry + "/" + name
	}
	return name
}

// NormalizeImage is the string Kyverno's image info gives an image (ImageInfo.String): the
// form ImageValidatingPolicy's digest mutation matches and writes (kyverno/ivpol).
func NormalizeImage(image string, cfg Config) (string, error) {
	info, err := parseImage(image, cfg)
	if err != nil {
		return "", err
	}
	return info.String(), nil
}
