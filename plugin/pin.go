package plugin

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-verify/kubectl-verify/internal/pin"
	"github.com/kubectl-verify/kubectl-verify/simulate/report"
)

// pinFlags are pin's own flags.
type pinFlags struct {
	dryRun bool
	all    bool
}

// NewCmdPin is `kubectl verify pin`: the images that verify under the loaded policies are
// pinned by digest in the manifest files themselves, only their values changing.
func NewCmdPin(streams genericiooptions.IOStreams) *cobra.Command {
	o := NewSimulateOptions(streams)
	o.pin = &pinFlags{}
	cmd := &cobra.Command{
		Use:   "pin -f PATH",
		Short: "Pin each verified image of local manifests by digest, in place",
		Long: `pin rewrites each image that verifies under the loaded policies to name:tag@sha256:...
in the manifest files, keeping comments, key order and layout; images that fail verification
are left alone and reported. --all pins every image that resolves, verified or not; --dry-run
prints the diff instead of writing.`,
		RunE: o.runE,
	}
	o.addFlags(cmd)
	cmd.Flags().BoolVar(&o.pin.dryRun, "dry-run", false, "Print the diff instead of writing the files")
	cmd.Flags().BoolVar(&o.pin.all, "all", false, "Pin every image that resolves, verified or not")
	return cmd
}

// validatePin refuses what pin cannot rewrite: it needs files.
func (o *SimulateOptions) validatePin() error {
	if len(o.Sources.Filenames) == 0 && o.Sources.Kustomize == "" {
		return &UsageError{"pin rewrites manifest files: give them with -f, or a kustomization with -k"}
	}
	for _, f := range o.Sources.Filenames {
		if f == "-" || strings.Contains(f, "://") {
			return &UsageError{fmt.Sprintf("pin rewrites files in place: %s is not a local file", f)}
		}
	}
	return nil
}

// pinImages rewrites the files rows come from.
func (o *SimulateOptions) pinImages(rows []report.ImageRow) error {
	edits := map[string][]pin.Edit{}
	kustomized := map[string]map[string]string{} // kustomization dir -> image name -> digest
	var left []string
	for _, r := range rows {
		dir, isKustomize := strings.CutPrefix(r.Resource.Source, "kustomize:")
		file, ok := localFile(r.Resource.Source)
		if (!ok && !isKustomize) || r.Image == "" || strings.Contains(r.Image, "@") {
			continue
		}
		if r.Result != "pass" && !o.pin.all {
			if r.Result == "fail" || r.Result == "error" || r.Result == "warn" {
				left = append(left, fmt.Sprintf("left alone: %s %s/%s %s: verification %s", r.Resource.Source, r.Resource.Kind, r.Resource.Name, r.Image, r.Result))
			}
			continue
		}
		if r.Digest == "" {
			left = append(left, fmt.Sprintf("left alone: %s %s/%s %s: no digest resolved", r.Resource.Source, r.Resource.Kind, r.Resource.Name, r.Image))
			continue
		}
		if isKustomize {
			// The kustomization's images transformer pins every use of the name: two digests for
			// one name cannot both be had.
			name := pin.ImageName(r.Image)
			if kustomized[dir] == nil {
				kustomized[dir] = map[string]string{}
			}
			if prev, ok := kustomized[dir][name]; ok && prev != r.Digest {
				left = append(left, fmt.Sprintf("left alone: %s %s: images of that name resolve to different digests (%s, %s)", r.Resource.Source, name, prev, r.Digest))
				kustomized[dir][name] = ""
				continue
			}
			if prev, ok := kustomized[dir][name]; !ok || prev != "" {
				kustomized[dir][name] = r.Digest
			}
			continue
		}
		edits[file] = append(edits[file], pin.Edit{Kind: r.Resource.Kind, Namespace: r.Resource.Namespace, Name: r.Resource.Name,
			Path: r.Path, Old: r.Image, New: r.Image + "@" + r.Digest})
	}
	if err := o.pinKustomizations(kustomized); err != nil {
		return err
	}
	files := make([]string, 0, len(edits))
	for f := range edits {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		out, changes, err := pin.Apply(data, edits[f])
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if o.pin.dryRun {
			fmt.Fprint(o.Out, pin.Diff(f, data, out, changes))
			continue
		}
		info, err := os.Stat(f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(f, out, info.Mode().Perm()); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "%s: %d image(s) pinned\n", f, len(changes))
	}
	for _, l := range left {
		fmt.Fprintln(o.ErrOut, l)
	}
	return nil
}

// localFile is the file of a FILE:LINE source read from disk.
func localFile(source string) (string, bool) {
	i := strings.LastIndex(source, ":")
	if i <= 0 || strings.HasPrefix(source, "cluster/") || strings.HasPrefix(source, "kustomize:") || strings.HasPrefix(source, "-:") {
		return "", false
	}
	if _, err := strconv.Atoi(source[i+1:]); err != nil {
		return "", false
	}
	return source[:i], true
}

// pinKustomizations sets `digest:` in each kustomization's images entries, not in its bases.
func (o *SimulateOptions) pinKustomizations(kustomized map[string]map[string]string) error {
	dirs := make([]string, 0, len(kustomized))
	for d := range kustomized {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		digests := map[string]string{}
		for name, d := range kustomized[dir] {
			if d != "" {
				digests[name] = d
			}
		}
		if len(digests) == 0 {
			continue
		}
		file := ""
		for _, n := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
			if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
				file = filepath.Join(dir, n)
				break
			}
		}
		if file == "" {
			return fmt.Errorf("%s: no kustomization file", dir)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		out, names, err := pin.Kustomization(data, digests)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if o.pin.dryRun {
			fmt.Fprint(o.Out, pin.LinesDiff(file, data, out))
			continue
		}
		info, err := os.Stat(file)
		if err != nil {
			return err
		}
		if err := os.WriteFile(file, out, info.Mode().Perm()); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "%s: %d image(s) pinned (%s)\n", file, len(names), strings.Join(names, ", "))
	}
	return nil
}
