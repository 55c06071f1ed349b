package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// Formats every command accepts today.
var Formats = []string{"table", "wide", "json", "yaml", "policyreport", "openreports", "sarif", "junit", "markdown"}

// PrintJSON writes v as indented JSON.
func PrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// PrintSimulationJSON writes rep as PrintJSON does, one result at a time: the whole
// document of a large run is never held in memory at once.
func PrintSimulationJSON(w io.Writer, rep *SimulationReport) error {
	head := *rep
	head.Results = []Result{}
	return printJSONList(w, head, rep.Results)
}

// PrintImageJSON writes doc as PrintJSON does, one row at a time.
func PrintImageJSON(w io.Writer, doc ImageReport) error {
	head := doc
	head.Images = []ImageRow{}
	return printJSONList(w, head, doc.Images)
}

// printJSONList writes head, whose last field is an empty list, with items in that list, in
// PrintJSON's layout.
func printJSONList[T any](w io.Writer, head any, items []T) error {
	b, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return err
	}
	const emptyList = "[]\n}"
	if !bytes.HasSuffix(b, []byte(emptyList)) {
		return errors.New("report: the list is not the document's last field")
	}
	bw := bufio.NewWriter(w)
	bw.Write(b[:len(b)-len(emptyList)]) //nolint:errcheck // Flush reports it
	switch {
	case items == nil:
		bw.WriteString("null\n}\n") //nolint:errcheck // Flush reports it
	case len(items) == 0:
		bw.WriteString(emptyList + "\n") //nolint:errcheck // Flush reports it
	default:
		bw.WriteString("[\n") //nolint:errcheck // Flush reports it
		for i := range items {
			ib, err := json.MarshalIndent(items[i], "    ", "  ")
			if err != nil {
				return err
			}
			bw.WriteString("    ") //nolint:errcheck // Flush reports it
			bw.Write(ib)           //nolint:errcheck // Flush reports it
			if i < len(items)-1 {
				bw.WriteByte(',') //nolint:errcheck // Flush reports it
			}
			bw.WriteByte('\n') //nolint:errcheck // Flush reports it
		}
		bw.WriteString("  ]\n}\n") //nolint:errcheck // Flush reports it
	}
	return bw.Flush()
}

// PrintYAMLDocuments writes docs as one YAML stream, `---` between documents (what kubectl
// apply -f takes).
func PrintYAMLDocuments(w io.Writer, docs []map[string]any) error {
	for i, d := range docs {
		if i > 0 {
			if _, err := fmt.Fprintln(w, "---"); err != nil {
				return err
			}
		}
		if err := PrintYAML(w, d); err != nil {
			return err
		}
	}
	return nil
}

// PrintYAML writes v as YAML (the same document as JSON).
func PrintYAML(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	y, err := yaml.JSONToYAML(b)
	if err != nil {
		return err
	}
	_, err = w.Write(y)
	return err
}

// oneLine folds a message onto one line and cuts it to width (0 = no cut).
func oneLine(s string, width int) string {
	s = strings.Join(strings.Fields(s), " ")
	if width > 3 && len(s) > width {
		s = s[:width-3] + "..."
	}
	return s
}

// notPassing is a check that can deny: it failed, errored or warned.
func notPassing(c Check) bool {
	return c.Result == ResultFail || c.Result == ResultError || c.Result == ResultWarn
}

// explaining is the check that explains a result: for a denied one, the first non-passing
// check of an enforcing mode (an Audit or warn failure denies nothing), else the first
// non-passing check.
func explaining(r Result) (Check, bool) {
	if r.Decision == Deny {
		for _, c := range r.Checks {
			if notPassing(c) && c.Mode != "audit" && c.Mode != "warn" && c.Mode != "monitor" {
				return c, true
			}
		}
	}
	for _, c := range r.Checks {
		if notPassing(c) {
			return c, true
		}
	}
	return Check{}, false
}

// reason is the explaining check's message, else the deny message.
func reason(r Result) string {
	if c, ok := explaining(r); ok {
		return c.Message
	}
	return r.Message
}

// PrintSimulationTable writes the simulate table. width is the terminal's (0 = not a
// terminal): REASON, the last column, is cut so that each line fits it (the contract's
// table; redirected, the full reason is written). The wide table also says why images were
// not checked (NOT-CHECKED).
func PrintSimulationTable(w io.Writer, rep *SimulationReport, wide bool, width int) error {
	head := []string{"NAMESPACE", "RESOURCE", "DECISION", "IF-ENFORCED"}
	if wide {
		head = append(head, "POLICY", "RULE", "PATCHED", "NOT-CHECKED")
	}
	rows := [][]string{head}
	reasons := []string{"REASON"}
	for _, r := range rep.Results {
		row := []string{dash(r.Resource.Namespace), r.Resource.Kind + "/" + r.Resource.Name, r.Decision, r.DecisionIfEnforced}
		if wide {
			pol, rule := "-", "-"
			if c, ok := explaining(r); ok {
				pol, rule = c.Policy, c.Rule
			} else if len(r.Checks) > 0 {
				pol, rule = r.Checks[0].Policy, r.Checks[0].Rule
			}
			patched := "no"
			for _, p := range r.Patch {
				if strings.HasSuffix(p.Path, "/image") {
					patched = "yes"
					break
				}
			}
			row = append(row, pol, rule, patched, dash(uncovered(r)))
		}
		rows = append(rows, row)
		reasons = append(reasons, dash(oneLine(reason(r), 0)))
	}
	return PrintColumns(w, rows, reasons, width)
}

// PrintColumns aligns rows like kubectl (three spaces between columns) and appends last,
// cut to what width leaves of the line.
func PrintColumns(w io.Writer, rows [][]string, last []string, width int) error {
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], len(c))
		}
	}
	prefix := 0
	for _, n := range widths {
		prefix += n + 3
	}
	room := 0
	if width > 0 {
		room = max(width-prefix, 20)
	}
	var b strings.Builder
	for i, row := range rows {
		b.Reset()
		for j, c := range row {
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", widths[j]-len(c)+3))
		}
		b.WriteString(oneLine(last[i], room))
		if _, err := fmt.Fprintln(w, b.String()); err != nil {
			return err
		}
	}
	return nil
}

// Uncovered is an image no check covers, with every reason the engines give.
type Uncovered struct {
	Image, Path string
	Reasons     []string
}

// UncoveredImages are r's images no check covers, in the order notChecked lists them.
func UncoveredImages(r Result) []Uncovered {
	covered := map[string]bool{}
	for _, c := range r.Checks {
		covered[c.Path] = true
	}
	var out []Uncovered
	at := map[string]int{}
	for _, n := range r.NotChecked {
		if covered[n.Path] {
			continue
		}
		i, ok := at[n.Path]
		if !ok {
			i = len(out)
			at[n.Path] = i
			out = append(out, Uncovered{Image: n.Image, Path: n.Path})
		}
		if !slices.Contains(out[i].Reasons, n.Reason) {
			out[i].Reasons = append(out[i].Reasons, n.Reason)
		}
	}
	return out
}

// uncovered says, for each image of r no check covers, why: "<container path>: <reasons>",
// the reasons of every engine that gave one, joined by ";".
func uncovered(r Result) string {
	var out []string
	for _, u := range UncoveredImages(r) {
		out = append(out, containerOf(u.Path)+": "+strings.Join(u.Reasons, ","))
	}
	return strings.Join(out, "; ")
}

// containerOf shortens an image's JSON pointer to the container list and index
// (containers/0), which is how kubectl users find it.
func containerOf(path string) string {
	parts := strings.Split(strings.TrimSuffix(path, "/image"), "/")
	if len(parts) >= 2 {
		return parts[len(parts)-2] + "/" + parts[len(parts)-1]
	}
	return path
}

// ImpactLine is the one-line summary printed after the table: top-level workloads (not the
// ReplicaSets and Pods they own) denied if every policy were enforced, and now.
func ImpactLine(s Summary) string {
	line := fmt.Sprintf("%d of %d workloads would be denied if enforced (%d now)",
		s.WorkloadsDeniedIfEnforced, s.Workloads, s.WorkloadsDenied)
	if s.Incomplete > 0 {
		line += fmt.Sprintf("; %d resource(s) incomplete (kubectl-verify errors)", s.Incomplete)
	}
	return line
}

// ImpactBreakdown is what follows the impact line when some workload would be denied if
// enforced: those workloads counted by the policies that fail them (engine/policy; a
// workload counts under each) and by namespace, each with how many are denied now.
func ImpactBreakdown(results []Result) []string {
	type count struct{ enforced, now int }
	byPolicy, byNamespace := map[string]*count{}, map[string]*count{}
	add := func(m map[string]*count, key string, now bool) {
		if m[key] == nil {
			m[key] = &count{}
		}
		m[key].enforced++
		if now {
			m[key].now++
		}
	}
	for _, r := range results {
		if r.Resource.Owner != nil || r.DecisionIfEnforced != Deny {
			continue
		}
		now := r.Decision == Deny
		add(byNamespace, dash(r.Resource.Namespace), now)
		seen := map[string]bool{}
		for _, c := range r.Checks {
			if !notPassing(c) {
				continue
			}
			key := c.Engine + "/" + dash(c.Policy)
			if c.Engine == "" {
				key = "kyverno/" + dash(c.Policy)
			}
			if !seen[key] {
				seen[key] = true
				add(byPolicy, key, now)
			}
		}
	}
	if len(byNamespace) == 0 {
		return nil
	}
	section := func(title string, m map[string]*count) []string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		// Most denied first, then by name, so that the line to act on comes first.
		sort.Slice(keys, func(i, j int) bool {
			if m[keys[i]].enforced != m[keys[j]].enforced {
				return m[keys[i]].enforced > m[keys[j]].enforced
			}
			return keys[i] < keys[j]
		})
		wid := 0
		for _, k := range keys {
			wid = max(wid, len(k))
		}
		out := []string{title}
		for _, k := range keys {
			out = append(out, fmt.Sprintf("  %-*s   %d (%d now)", wid, k, m[k].enforced, m[k].now))
		}
		return out
	}
	out := section("by policy:", byPolicy)
	return append(out, section("by namespace:", byNamespace)...)
}

// PrintImageTable writes the images table.
func PrintImageTable(w io.Writer, rows []ImageRow) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tRESOURCE\tCONTAINER\tIMAGE\tDIGEST\tRESULT\tPOLICIES\tWHY")
	for _, r := range rows {
		var pols []string
		seen := map[string]bool{}
		for _, c := range r.Checks {
			if !seen[c.Policy] {
				seen[c.Policy] = true
				pols = append(pols, c.Policy)
			}
		}
		digest := r.Digest
		if len(digest) > 19 {
			digest = digest[:19]
		}
		// WHY: for an image no check covers, the reasons each engine gives.
		var why []string
		if len(r.Checks) == 0 {
			for _, n := range r.NotChecked {
				if !slices.Contains(why, n.Reason) {
					why = append(why, n.Reason)
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\n", dash(r.Resource.Namespace), r.Resource.Kind, r.Resource.Name,
			dash(r.Container), dash(r.Image), dash(digest), r.Result, dash(strings.Join(pols, ",")), dash(strings.Join(why, ",")))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
