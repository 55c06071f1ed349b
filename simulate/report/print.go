package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// Formats every command accepts today.
var Formats = []string{"table", "wide", "json", "yaml"}

// PrintJSON writes v as indented JSON.
func PrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
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

// explaining is the check that explains a result: for a denied one, the first non-passing
// check of an enforcing mode (an Audit or warn failure denies nothing), else the first
// non-passing check.
func explaining(r Result) (Check, bool) {
	notPassing := func(c Check) bool {
		return c.Result == ResultFail || c.Result == ResultError || c.Result == ResultWarn
	}
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
// terminal): REASON, the last column, is cut so that each line fits it.
func PrintSimulationTable(w io.Writer, rep *SimulationReport, wide bool, width int) error {
	head := []string{"NAMESPACE", "RESOURCE", "DECISION", "IF-ENFORCED"}
	if wide {
		head = append(head, "POLICY", "RULE", "PATCHED")
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
			row = append(row, pol, rule, patched)
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

// ImpactLine is the one-line summary printed after the table.
func ImpactLine(s Summary) string {
	line := fmt.Sprintf("%d workload(s) in %d resource(s): %d denied now, %d denied if every policy were enforced",
		s.Workloads, s.Resources, s.WorkloadsDenied, s.WorkloadsDeniedIfEnforced)
	if s.Incomplete > 0 {
		line += fmt.Sprintf("; %d resource(s) incomplete (kubectl-verify errors)", s.Incomplete)
	}
	return line
}

// PrintImageTable writes the images table.
func PrintImageTable(w io.Writer, rows []ImageRow) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tRESOURCE\tCONTAINER\tIMAGE\tDIGEST\tRESULT\tPOLICIES")
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
		fmt.Fprintf(tw, "%s\t%s/%s\t%s\t%s\t%s\t%s\t%s\n", dash(r.Resource.Namespace), r.Resource.Kind, r.Resource.Name,
			dash(r.Container), dash(r.Image), dash(digest), r.Result, dash(strings.Join(pols, ",")))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
