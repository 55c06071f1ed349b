package report

import (
	"fmt"
	"io"
	"strings"
)

// PrintMarkdown writes the simulation as a pull-request comment (GitHub-flavored Markdown):
// the impact as a heading, a table of the resources that are denied, would be denied if
// enforced, or warned, with the deciding policy and the reason, and how many others pass.
func PrintMarkdown(w io.Writer, rep *SimulationReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### kubectl verify: %s\n\n", ImpactLine(rep.Summary))
	var rows []string
	passing := 0
	for _, r := range rep.Results {
		if r.Decision == Allow && r.DecisionIfEnforced == Allow && !warned(r) {
			passing++
			continue
		}
		mark := ":x:"
		if r.Decision == Allow {
			mark = ":warning:"
		}
		policy := "-"
		if c, ok := explaining(r); ok {
			engine := c.Engine
			if engine == "" {
				engine = "kyverno"
			}
			policy = engine + "/" + dash(c.Policy)
		}
		rows = append(rows, "| "+strings.Join([]string{mark, mdCell(r.Resource.Kind + "/" + r.Resource.Name), mdCell(dash(r.Resource.Namespace)),
			r.Decision, r.DecisionIfEnforced, mdCell(policy), mdCell(dash(reason(r)))}, " | ")+" |")
	}
	if len(rows) > 0 {
		b.WriteString("| | Resource | Namespace | Decision | If enforced | Policy | Reason |\n|---|---|---|---|---|---|---|\n")
		b.WriteString(strings.Join(rows, "\n") + "\n\n")
	}
	fmt.Fprintf(&b, "%d of %d resource(s) pass every policy, enforced or not.\n", passing, len(rep.Results))
	var unchecked []string
	for _, r := range rep.Results {
		for _, u := range UncoveredImages(r) {
			unchecked = append(unchecked, fmt.Sprintf("- %s/%s `%s`: %s", mdCell(r.Resource.Kind), mdCell(r.Resource.Name), strings.ReplaceAll(u.Image, "`", ""), strings.Join(u.Reasons, ", ")))
		}
	}
	if len(unchecked) > 0 {
		fmt.Fprintf(&b, "\n<details><summary>%d image(s) no policy checked</summary>\n\n%s\n\n</details>\n", len(unchecked), strings.Join(unchecked, "\n"))
	}
	out := b.String()
	// GitHub refuses a comment longer than 65,536 characters.
	if len(out) > maxComment {
		out = out[:strings.LastIndex(out[:maxComment-200], "\n")+1] + "\n… cut to fit a GitHub comment: run `kubectl verify simulate` for the rest.\n"
	}
	_, err := io.WriteString(w, out)
	return err
}

const maxComment = 65536

// warned is an allowed result with a warning or a check that did not pass.
func warned(r Result) bool {
	if len(r.Warnings) > 0 {
		return true
	}
	for _, c := range r.Checks {
		if notPassing(c) {
			return true
		}
	}
	return false
}

// mdCell keeps a value inside its table cell: one line, pipes escaped, code spans' backticks
// and HTML left as text.
func mdCell(s string) string {
	s = oneLine(s, 0)
	r := strings.NewReplacer(`\`, `\\`, "|", `\|`, "<", "&lt;", ">", "&gt;", "`", "\\`", "*", `\*`, "_", `\_`, "~", `\~`, "[", `\[`, "]", `\]`)
	return r.Replace(s)
}
