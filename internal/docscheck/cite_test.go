package docscheck

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The cases write the section sign as "@", so that the repository scan does
// not read them as citations of the real document.
const ss = "\u00a7"

func TestFind(t *testing.T) {
	for _, tc := range []struct {
		name, text, kind string
		want             []string
	}{
		{"section", "see spec @2.3 here", "md", []string{"1:@2.3"}},
		{"trailing dot", "(spec @6.6.)", "go", []string{"1:@6.6"}},
		{"list", "spec @3.3, @4.1, @4.4 and @8", "go", []string{"1:@3.3", "1:@4.1", "1:@4.4", "1:@8"}},
		{"range", "spec @2–@3, spec @4.1–4.2", "go", []string{"1:@2", "1:@3", "1:@4.1", "1:@4.2"}},
		{"rows", "spec @6.6 #1, #2 and @6.6 #4–#6", "md", []string{"1:@6.6 #1", "1:@6.6 #2", "1:@6.6 #4", "1:@6.6 #6"}},
		{"row without spec", "| #2 | ... | @6.6 #2 |", "md", []string{"1:@6.6 #2"}},
		{"row over a line break", "x\n(@6.6\n#3)", "md", []string{"2:@6.6 #3"}},
		{"question", "AWS documents none (spec @11 q2)", "go", []string{"1:@11 q2"}},
		{"q only in the questions section", "spec @4 q2", "go", []string{"1:@4"}},
		{"capital and prefix", "Spec @4.4: ...\ngwlb-spec @3.1", "go", []string{"1:@4.4", "2:@3.1"}},
		{"spec over a line break", "the\nspec\n@6.2 rules", "md", []string{"3:@6.2"}},
		{"over a go comment's line break", "// of spec\n// @2.1; and spec @2.1,\n// @12).", "go", []string{"2:@2.1", "2:@2.1", "3:@12"}},
		{"go literal", `c.warnf("@6.4, @6.6 #7", p)`, "go", []string{"1:@6.4", "1:@6.6 #7"}},
		{"go literal only in go", `"@6.4"`, "md", nil},
		{"table cell", "| a | b | @3.3, @4.1 |\n| c | @4.2 |", "md", []string{"1:@3.3", "1:@4.1", "2:@4.2"}},
		{"table cell with prose", "| @4.2 says so |", "md", nil},
		{"not the behaviour document", "RFC 8926 @3.5, DESIGN @4 rule 7, (@4.3)", "go", nil},
		{"placeholder", `cite as "spec @N"`, "md", nil},
		{"once each", "spec @6.6 #13", "md", []string{"1:@6.6 #13"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range Find(strings.ReplaceAll(tc.text, "@", ss), tc.kind) {
				got = append(got, strings.ReplaceAll(strconv.Itoa(c.Line)+":"+c.String(), ss, "@"))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Find(%q) (-want +got):\n%s", tc.text, diff)
			}
		})
	}
}

func TestParseAnchors(t *testing.T) {
	md := strings.Join([]string{
		"# Title",
		"| 1 | not in a section |",
		"## 0. Sources",
		"| S1 | x |",
		"## 6. Routing",
		"### 6.6 Mistakes",
		"| # | mistake |",
		"|---|---|",
		"| 1 | a |",
		"| 17 | b |",
		"```",
		"## 9. inside a fence",
		"```",
		"## 11. Open questions",
		"1. one",
		"   2. indented: not an item",
		"18. eighteen",
	}, "\n")
	a := ParseAnchors(md)
	for _, c := range []struct {
		c    Citation
		want bool
	}{
		{Citation{Section: "0"}, true},
		{Citation{Section: "6"}, true},
		{Citation{Section: "6.6"}, true},
		{Citation{Section: "6.6", Item: 1}, true},
		{Citation{Section: "6.6", Item: 17}, true},
		{Citation{Section: "6.6", Item: 2}, false},
		{Citation{Section: "6", Item: 1}, false},
		{Citation{Section: "9"}, false},
		{Citation{Section: "11", Item: 1}, true},
		{Citation{Section: "11", Item: 18}, true},
		{Citation{Section: "11", Item: 2}, false},
		{Citation{Section: "7"}, false},
	} {
		if got := a.Resolves(c.c); got != c.want {
			t.Errorf("Resolves(%v) = %v, want %v", c.c, got, c.want)
		}
	}
}
