package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// PrintJUnit writes the simulation as JUnit XML: a test suite per namespace, a test case per
// (resource, policy) named after the resource, its class the engine and policy; the case
// fails when a check of the policy failed (in any mode: the type says which), errs when one
// errored, is skipped when every check skipped.
func PrintJUnit(w io.Writer, rep *SimulationReport) error {
	doc := junitSuites{Name: "kubectl-verify"}
	suites := map[string]*junitSuite{}
	var names []string
	for _, r := range rep.Results {
		ns := dash(r.Resource.Namespace)
		suite := suites[ns]
		if suite == nil {
			suite = &junitSuite{Name: ns}
			suites[ns] = suite
			names = append(names, ns)
		}
		var policies []string
		byPolicy := map[string][]Check{}
		for _, c := range r.Checks {
			engine := c.Engine
			if engine == "" {
				engine = "kyverno"
			}
			key := engine + "/" + dash(c.Policy)
			if byPolicy[key] == nil {
				policies = append(policies, key)
			}
			byPolicy[key] = append(byPolicy[key], c)
		}
		if un := UncoveredImages(r); len(un) > 0 {
			var lines []string
			for _, u := range un {
				lines = append(lines, u.Image+" ("+u.Path+"): "+strings.Join(u.Reasons, ", "))
			}
			suite.Cases = append(suite.Cases, junitCase{Name: r.Resource.Kind + "/" + r.Resource.Name, Classname: "not-checked",
				File: sourceFile(r.Resource.Source), Skipped: &junitProblem{Message: "not checked: " + lines[0], Text: strings.Join(lines, "\n")}})
			suite.Tests++
			suite.Skipped++
		}
		for _, pol := range policies {
			tc := junitCase{Name: r.Resource.Kind + "/" + r.Resource.Name, Classname: pol, File: sourceFile(r.Resource.Source)}
			var failed, errored []string
			skipped := true
			for _, c := range byPolicy[pol] {
				line := fmt.Sprintf("%s %s [%s%s]: %s", c.Image, dash(c.Rule), c.Result, modeSuffix(c.Mode), c.Message)
				switch c.Result {
				case ResultError:
					errored = append(errored, line)
				case ResultFail, ResultWarn:
					failed = append(failed, line)
				}
				skipped = skipped && c.Result == ResultSkip
			}
			switch {
			case len(errored) > 0:
				tc.Error = &junitProblem{Message: firstLine(errored[0]), Type: "error", Text: strings.Join(append(errored, failed...), "\n")}
				suite.Errors++
			case len(failed) > 0:
				kind := "denied"
				if r.Decision != Deny {
					kind = "denied-if-enforced"
				}
				tc.Failure = &junitProblem{Message: firstLine(failed[0]), Type: kind, Text: strings.Join(failed, "\n")}
				suite.Failures++
			case skipped:
				tc.Skipped = &junitProblem{Message: "every check skipped"}
				suite.Skipped++
			}
			suite.Tests++
			suite.Cases = append(suite.Cases, tc)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		s := suites[n]
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
		doc.Suites = append(doc.Suites, *s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func modeSuffix(mode string) string {
	if mode == "" {
		return ""
	}
	return ", " + mode
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// sourceFile is the file of a FILE:LINE source ("" for the cluster, stdin or kustomize).
func sourceFile(source string) string {
	file, _, ok := cutLine(source)
	if !ok {
		return ""
	}
	return file
}

// cutLine splits FILE:LINE; ok is false for sources that are not a file's.
func cutLine(source string) (file string, line int, ok bool) {
	i := strings.LastIndex(source, ":")
	if i <= 0 || strings.HasPrefix(source, "cluster/") || strings.HasPrefix(source, "kustomize:") || strings.HasPrefix(source, "-:") {
		return "", 0, false
	}
	if _, err := fmt.Sscanf(source[i+1:], "%d", &line); err != nil {
		return "", 0, false
	}
	return source[:i], line, true
}
