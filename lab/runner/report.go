package runner

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// mark is how the text report shows a status.
func mark(status string) string {
	switch status {
	case StatusPass, StatusOK:
		return "ok  "
	case StatusFail:
		return "FAIL"
	case StatusError:
		return "ERR "
	case StatusSkipped:
		return "skip"
	}
	return strings.ToUpper(status)
}

// WriteText writes the report for people: per file its steps, per expect
// step a table of expected against observed, and under each mismatch its
// evidence.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, f := range r.Files {
		title := f.File
		if f.Name != "" {
			title += ": " + f.Name
		}
		fmt.Fprintf(&b, "== %s\n", title)
		if f.Lab != "" {
			fmt.Fprintf(&b, "   lab %s%s\n", f.Lab, map[bool]string{true: " (kept)"}[f.Kept])
		}
		for _, d := range f.Diagnostics {
			fmt.Fprintf(&b, "   %s\n", d)
		}
		for _, s := range f.Steps {
			fmt.Fprintf(&b, "%s %s %s %s", mark(s.Status), s.Path, s.Kind, s.Summary)
			if s.Traffic != nil && s.Status != StatusSkipped {
				fmt.Fprintf(&b, ": %s", trafficLine(s.Traffic))
			}
			b.WriteString("\n")
			if s.Error != "" {
				fmt.Fprintf(&b, "       error: %s\n", s.Error)
			}
			if len(s.Expectations) > 0 {
				writeTable(&b, s.Expectations)
			}
		}
		passed, total := 0, 0
		for _, s := range f.Steps {
			for _, e := range s.Expectations {
				total++
				if e.Status == StatusPass {
					passed++
				}
			}
		}
		fmt.Fprintf(&b, "%s: %s, %d of %d expectations held (%.1fs)", f.File, strings.ToUpper(statusWord(f.Status)), passed, total, f.Seconds)
		if f.Error != "" {
			fmt.Fprintf(&b, ": %s", f.Error)
		}
		b.WriteString("\n\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func statusWord(s string) string {
	if s == StatusNotUp {
		return "not up"
	}
	return s
}

func trafficLine(t *TrafficResult) string {
	if t.Error != "" && len(t.Flows) == 0 {
		return t.Error
	}
	s := fmt.Sprintf("%s to %s: %d of %d flows answered", t.Protocol, t.Dest, t.Answered, len(t.Flows))
	if k := failKinds(t.Flows); k != "" {
		s += " (" + k + ")"
	}
	if t.Background {
		s += " (background)"
	}
	return s
}

// writeTable writes expectations as columns: status, expectation,
// expected, observed; then the evidence of each mismatch.
func writeTable(b *strings.Builder, es []*ExpectResult) {
	rows := [][]string{{"", "EXPECTATION", "EXPECTED", "OBSERVED"}}
	for _, e := range es {
		rows = append(rows, []string{mark(e.Status), e.Kind + " " + e.Spec, e.Expected, e.Observed})
	}
	widths := make([]int, 4)
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	for i, r := range rows {
		b.WriteString("     ")
		for j, c := range r {
			if j == len(r)-1 {
				b.WriteString(c)
				break
			}
			b.WriteString(c + strings.Repeat(" ", widths[j]-len(c)+2))
		}
		b.WriteString("\n")
		if i == 0 {
			continue
		}
		e := es[i-1]
		if e.Error != "" {
			fmt.Fprintf(b, "         error: %s\n", e.Error)
		}
		for _, ev := range e.Evidence {
			fmt.Fprintf(b, "         %s\n", ev)
		}
	}
}

// JUnit XML: one testsuite per file, one testcase per expectation (and one
// for a file that did not run, or a step that failed to run).

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	File     string      `xml:"file,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     float64     `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML.
func (r *Report) WriteJUnit(w io.Writer) error {
	var all junitSuites
	for _, f := range r.Files {
		name := f.Name
		if name == "" {
			name = f.File
		}
		s := junitSuite{Name: name, File: f.File, Time: f.Seconds}
		class := strings.TrimSuffix(f.File, ".yaml")
		for _, st := range f.Steps {
			if st.Status == StatusError {
				s.Cases = append(s.Cases, junitCase{Name: st.Path + " " + st.Kind + " " + st.Summary, Classname: class,
					Error: &junitProblem{Message: st.Error, Text: st.Error}})
				continue
			}
			for _, e := range st.Expectations {
				c := junitCase{Name: e.Path + " " + e.Kind + " " + e.Spec, Classname: class}
				text := "expected: " + e.Expected + "\nobserved: " + e.Observed
				if len(e.Evidence) > 0 {
					text += "\n" + strings.Join(e.Evidence, "\n")
				}
				switch e.Status {
				case StatusFail:
					c.Failure = &junitProblem{Message: text, Text: text}
				case StatusError:
					c.Error = &junitProblem{Message: e.Error, Text: text}
				}
				s.Cases = append(s.Cases, c)
			}
			if st.Status == StatusSkipped {
				s.Cases = append(s.Cases, junitCase{Name: st.Path + " " + st.Kind + " " + st.Summary, Classname: class,
					Skipped: &junitProblem{Message: "not reached: an earlier step could not be done"}})
			}
		}
		switch f.Status {
		case StatusInvalid, StatusNotUp:
			msg := f.Error
			text := strings.Join(append(slicesClone(f.Diagnostics), f.Error), "\n")
			s.Cases = append(s.Cases, junitCase{Name: statusWord(f.Status), Classname: class, Error: &junitProblem{Message: msg, Text: text}})
		case StatusError:
			if len(f.Steps) == 0 {
				s.Cases = append(s.Cases, junitCase{Name: "run", Classname: class, Error: &junitProblem{Message: f.Error, Text: f.Error}})
			}
		}
		for _, c := range s.Cases {
			s.Tests++
			switch {
			case c.Failure != nil:
				s.Failures++
			case c.Error != nil:
				s.Errors++
			case c.Skipped != nil:
				s.Skipped++
			}
		}
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Errors += s.Errors
		all.Suites = append(all.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }
