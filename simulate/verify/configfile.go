package verify

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ConfigFilesResult is policy-controller's getConfigs answer: the image's config files by
// platform ({os}/{architecture}[/{variant}], "" when the config names none), or its errors.
type ConfigFilesResult struct {
	Files map[string]*v1.ConfigFile
	Errs  []error
}

// ConfigFiles reads the image's config file, or each platform's for an index, as
// policy-controller's fetchConfigFile does (validator.go getConfigs), with its error texts.
func (v *Verifier) ConfigFiles(ctx context.Context, image string, a Auth) ConfigFilesResult {
	res, _ := v.configs.Do(ctx, authKey(image, a), func() (ConfigFilesResult, error) {
		ref, err := name.ParseReference(image, v.reg.nameOptions(image)...)
		if err != nil {
			return ConfigFilesResult{Errs: []error{err}}, nil
		}
		ropts, _ := v.remoteFor(ctx, a)
		files, errs := getConfigs(ref, ropts)
		return ConfigFilesResult{Files: files, Errs: errs}, nil
	})
	return res
}

func getConfigs(ref name.Reference, ropts []remote.Option) (map[string]*v1.ConfigFile, []error) {
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		return nil, []error{fmt.Errorf("failed to get ref %s : %w", ref.String(), err)}
	}
	switch desc.MediaType {
	case types.OCIImageIndex, types.DockerManifestList:
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, []error{fmt.Errorf("getting ImageIndex for %s : %w", ref.String(), err)}
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, []error{fmt.Errorf("getting IndexManifest for %s : %w", ref.String(), err)}
		}
		out := map[string]*v1.ConfigFile{}
		var errs []error
		// The webhook fetches the platforms at once and gathers them as they come; the
		// union and the error list do not depend on that order but for the errors' order.
		for _, m := range im.Manifests {
			child := ref.Context().Digest(m.Digest.String())
			files, cerrs := getConfigs(child, ropts)
			if len(cerrs) > 0 {
				errs = append(errs, fmt.Errorf("failed to get a ConfigFile: %v", cerrs))
				continue
			}
			for k, f := range files {
				out[k] = f
			}
		}
		if len(errs) > 0 {
			return nil, errs
		}
		return out, nil
	case types.OCIManifestSchema1, types.DockerManifestSchema2:
		img, err := desc.Image()
		if err != nil {
			return nil, []error{fmt.Errorf("getting Image for %s: %w", ref.String(), err)}
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, []error{fmt.Errorf("getting ConfigFile for %s: %w", ref.String(), err)}
		}
		p := v1.Platform{Architecture: cf.Architecture, OS: cf.OS, OSVersion: cf.OSVersion, Variant: cf.Variant}
		return map[string]*v1.ConfigFile{p.String(): cf}, nil
	}
	return nil, []error{fmt.Errorf("unknown mime type for %s: %v", ref.String(), desc.MediaType)}
}
