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

// pinImages rewrites the files rows come from. Every new content is computed before any
// file is written, so that a file pin cannot rewrite leaves no other half done; a file or a
// kustomization it cannot rewrite is reported and left alone.
func (o *SimulateOptions) pinImages(rows []report.ImageRow) error {
	edits := map[string][]pin.Edit{}
	kustomized := map[string]map[string][]report.ImageRow{} // kustomization dir -> image name -> rows
	var left []string
	leave := func(r report.ImageRow, why string) {
		left = append(left, fmt.Sprintf("left alone: %s %s/%s %s: %s", r.Resource.Source, r.Resource.Kind, r.Resource.Name, r.Image, why))
	}
	defaultNS := o.namespace()
	for _, r := range rows {
		if r.Image == "" {
			continue
		}
		if dir, ok := strings.CutPrefix(r.Resource.Source, "kustomize:"); ok {
			// The images transformer pins every use of a name: decided below over all of them.
			name := pin.ImageName(r.Image)
			if kustomized[dir] == nil {
				kustomized[dir] = map[string][]report.ImageRow{}
			}
			kustomized[dir][name] = append(kustomized[dir][name], r)
			continue
		}
		file, ok := localFile(r.Resource.Source)
		if !ok || strings.Contains(r.Image, "@") {
			continue
		}
		if why := o.unpinnable(r); why != "" {
			if why != "not checked" {
				leave(r, why)
			}
			continue
		}
		edits[file] = append(edits[file], pin.Edit{Kind: r.Resource.Kind, Namespace: r.Resource.Namespace, DefaultNamespace: defaultNS,
			Name: r.Resource.Name, Path: r.Path, Old: r.Image, New: r.Image + "@" + r.Digest})
	}
	type output struct {
		file      string
		before    []byte
		after     []byte
		summary   string
		changes   []pin.Change
		kustomize bool
	}
	var outs []output
	for _, f := range sortedKeys(edits) {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		after, changes, err := pin.Apply(data, edits[f])
		if err != nil {
			left = append(left, fmt.Sprintf("left alone: %s: %v", f, err))
			continue
		}
		outs = append(outs, output{file: f, before: data, after: after, changes: changes, summary: fmt.Sprintf("%d image(s) pinned", len(changes))})
	}
	for _, dir := range sortedKeys(kustomized) {
		pins := map[string]pin.KustomizePin{}
		for _, name := range sortedKeys(kustomized[dir]) {
			if p, why := o.kustomizePin(kustomized[dir][name]); why != "" {
				if why != "not checked" {
					left = append(left, fmt.Sprintf("left alone: kustomize:%s %s: %s", dir, name, why))
				}
			} else if p.Digest != "" {
				pins[name] = p
			}
		}
		if len(pins) == 0 {
			continue
		}
		file := kustomizationFile(dir)
		if file == "" {
			return fmt.Errorf("%s: no kustomization file", dir)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		after, names, err := pin.Kustomization(data, pins)
		if err != nil {
			left = append(left, fmt.Sprintf("left alone: %s: %v", file, err))
			continue
		}
		outs = append(outs, output{file: file, before: data, after: after, kustomize: true, summary: fmt.Sprintf("%d image(s) pinned (%s)", len(names), strings.Join(names, ", "))})
	}
	for _, out := range outs {
		if o.pin.dryRun {
			if out.kustomize {
				fmt.Fprint(o.Out, pin.LinesDiff(out.file, out.before, out.after))
			} else {
				fmt.Fprint(o.Out, pin.Diff(out.file, out.before, out.after, out.changes))
			}
			continue
		}
		info, err := os.Stat(out.file)
		if err != nil {
			return err
		}
		if err := os.WriteFile(out.file, out.after, info.Mode().Perm()); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "%s: %s\n", out.file, out.summary)
	}
	for _, l := range left {
		fmt.Fprintln(o.ErrOut, l)
	}
	return nil
}

// unpinnable says why a row's image is not pinned ("" when it is): not verified (unless
// --all), or no digest; "not checked" is not worth a report line.
func (o *SimulateOptions) unpinnable(r report.ImageRow) string {
	switch {
	case r.Result == "pass" || o.pin.all && r.Digest != "":
		if r.Digest == "" {
			return "no digest resolved"
		}
		return ""
	case r.Result == "fail" || r.Result == "error" || r.Result == "warn":
		return "verification " + r.Result
	case o.pin.all:
		return "no digest resolved"
	}
	return "not checked"
}

// kustomizePin is what a kustomization's images entry for one name gets: the transformer
// pins every image of the name, so each must resolve to the one digest, none may have failed
// verification, and at least one must have passed (every one with --all).
func (o *SimulateOptions) kustomizePin(rows []report.ImageRow) (pin.KustomizePin, string) {
	var p pin.KustomizePin
	verified := false
	for _, r := range rows {
		if strings.Contains(r.Image, "@") {
			continue
		}
		switch why := o.unpinnable(r); why {
		case "":
			verified = true
		case "not checked":
		default:
			return pin.KustomizePin{}, fmt.Sprintf("%s/%s uses it: %s", r.Resource.Kind, r.Resource.Name, why)
		}
		if r.Digest == "" {
			return pin.KustomizePin{}, fmt.Sprintf("%s/%s uses it: no digest resolved", r.Resource.Kind, r.Resource.Name)
		}
		if p.Digest != "" && p.Digest != r.Digest {
			return pin.KustomizePin{}, fmt.Sprintf("images of that name resolve to different digests (%s, %s)", p.Digest, r.Digest)
		}
		p.Digest, p.Tag = r.Digest, pin.ImageTag(r.Image)
	}
	if !verified {
		return pin.KustomizePin{}, "not checked"
	}
	return p, ""
}

func kustomizationFile(dir string) string {
	for _, n := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return filepath.Join(dir, n)
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
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
