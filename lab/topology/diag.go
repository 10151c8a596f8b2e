package topology

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Severity says whether a diagnostic stops the lab from being built.
type Severity int

const (
	// SeverityError marks a file the lab cannot be built from.
	SeverityError Severity = iota
	// SeverityWarning marks a pattern the lab builds although it cannot work
	// (or behaves unexpectedly) on AWS; the message says why.
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// MarshalText encodes the severity as its name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Diagnostic is one finding about a topology file.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	// Path is the YAML path of the object the finding is about, e.g.
	// vpcs.consumer.route_tables.app.routes[0]; empty for the whole file.
	Path string `json:"path"`
	// Line is the 1-based line of the offending key or value; 0 if unknown.
	Line int `json:"line,omitempty"`
	// Message says what is wrong, naming the field and the value.
	Message string `json:"message"`
	// Spec names the section of docs/gwlb-behaviour.md the finding comes from,
	// e.g. "§6.3"; always set for warnings about AWS behaviour.
	Spec string `json:"spec,omitempty"`
}

// String renders the diagnostic as "PATH: MESSAGE (spec §N)".
func (d Diagnostic) String() string {
	var b strings.Builder
	if d.Path != "" {
		b.WriteString(d.Path)
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	if d.Spec != "" {
		b.WriteString(" (spec ")
		b.WriteString(d.Spec)
		b.WriteString(")")
	}
	return b.String()
}

// Diagnostics is a list of findings. It is also an error, so that Parse and
// Resolve can return the findings that stopped them.
type Diagnostics []Diagnostic

// Error joins the errors of the list (or every finding, if none is an error).
func (ds Diagnostics) Error() string { return ds.Format("topology") }

// Format is Error for a document of another kind: "scenario: line 3: ...".
func (ds Diagnostics) Format(kind string) string {
	list := ds.Errors()
	if len(list) == 0 {
		list = ds
	}
	line := func(d Diagnostic) string {
		if d.Line > 0 {
			return fmt.Sprintf("line %d: %s", d.Line, d)
		}
		return d.String()
	}
	if len(list) == 1 {
		return kind + ": " + line(list[0])
	}
	var b strings.Builder
	b.WriteString(kind + ": ")
	b.WriteString(strconv.Itoa(len(list)))
	b.WriteString(" problems:")
	for _, d := range list {
		b.WriteString("\n  ")
		b.WriteString(line(d))
	}
	return b.String()
}

// Errors returns the findings of severity error.
func (ds Diagnostics) Errors() Diagnostics { return ds.filter(SeverityError) }

// Warnings returns the findings of severity warning.
func (ds Diagnostics) Warnings() Diagnostics { return ds.filter(SeverityWarning) }

// HasErrors reports whether any finding is an error.
func (ds Diagnostics) HasErrors() bool {
	return slices.ContainsFunc(ds, func(d Diagnostic) bool { return d.Severity == SeverityError })
}

func (ds Diagnostics) filter(s Severity) Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == s {
			out = append(out, d)
		}
	}
	return out
}

// sortDiagnostics orders findings as they appear in the file.
func sortDiagnostics(ds Diagnostics) {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Severity, b.Severity),
			cmp.Compare(a.Message, b.Message),
		)
	})
}
