package docscheck

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Citation is one section, row or question a file cites.
type Citation struct {
	Line    int    // 1-based
	Section string // "6.6"
	// Item is the row or question number (the K of "§6.6 #K" or "§11 qK"),
	// 0 when the citation names a whole section.
	Item int
}

// String renders the citation as it is written.
func (c Citation) String() string {
	s := "§" + c.Section
	if c.Item != 0 {
		if c.Section == questionsSection {
			return s + " q" + strconv.Itoa(c.Item)
		}
		return s + " #" + strconv.Itoa(c.Item)
	}
	return s
}

// questionsSection is the section whose numbered items are cited as qK.
const questionsSection = "11"

var (
	// A citation may wrap onto the next line of a Go comment: "spec\n// §2.1".
	specPrefix = regexp.MustCompile(`(?i)\bspec\s+(?://\s*)?§`)
	rowForm    = regexp.MustCompile(`§\d+(?:\.\d+)*\s*#\d+`)
	goLiteral  = regexp.MustCompile("[\"`]§")

	sectionNum = regexp.MustCompile(`^\d+(?:\.\d+)*`)
	itemForm   = regexp.MustCompile(`^(\s*#| q)(\d+)`)
	// separator joins the citations of a list: "§3.3, §4.1", "§2–§3",
	// "§4.1–4.2", "§6.6 #1, #2", "§6.6 #4–#6", "§6.3 and §6.4".
	separator = regexp.MustCompile(`^(,\s*(?://\s*)?|\s+and\s+|\s*[–—/-]\s*|\s+to\s+)(?:§|#)?\d`)
	moreItems = regexp.MustCompile(`^#(\d+)`)
)

// Find returns the citations in a file's text. kind is the file's
// extension without the dot ("go", "md", ...): Go string literals and
// Markdown table cells are forms of their own.
func Find(text, kind string) []Citation {
	var out []Citation
	seen := map[int]bool{} // offsets of the citations found so far
	lines := lineStarts(text)
	add := func(off int) {
		cs, _ := parseList(text, off)
		for _, c := range cs {
			if seen[c.Line] {
				continue // one citation, found by two forms
			}
			seen[c.Line] = true
			out = append(out, c)
		}
	}
	for _, m := range specPrefix.FindAllStringIndex(text, -1) {
		add(m[1] - len("§"))
	}
	for _, m := range rowForm.FindAllStringIndex(text, -1) {
		add(m[0])
	}
	if kind == "go" {
		for _, m := range goLiteral.FindAllStringIndex(text, -1) {
			add(m[0] + 1)
		}
	}
	if kind == "md" {
		for i, start := range lines {
			end := len(text)
			if i+1 < len(lines) {
				end = lines[i+1]
			}
			line := text[start:end]
			if !strings.HasPrefix(line, "|") {
				continue
			}
			off := start
			for _, cell := range strings.Split(line, "|") {
				trimmed := strings.TrimSpace(cell)
				if strings.HasPrefix(trimmed, "§") {
					at := off + strings.Index(cell, "§")
					if cs, end := parseList(text, at); end-at == len(trimmed) && len(cs) > 0 {
						add(at)
					}
				}
				off += len(cell) + 1
			}
		}
	}
	// In the order they are written, with lines for offsets.
	slices.SortFunc(out, func(a, b Citation) int { return a.Line - b.Line })
	for i := range out {
		out[i].Line = lineOf(lines, out[i].Line)
	}
	return out
}

// parseList reads a list of citations starting at off (at a "§"): each a
// section number, optionally followed by items, joined by separators.
// Citation.Line holds the byte offset of each citation. It returns where the
// list ends.
func parseList(text string, off int) ([]Citation, int) {
	var out []Citation
	i := off
	section := ""
	for {
		start := i
		if strings.HasPrefix(text[i:], "§") {
			i += len("§")
		}
		if strings.HasPrefix(text[i:], "#") && section != "" {
			// "#4–#6", "#1, #2": more items of the same section.
			m := moreItems.FindStringSubmatch(text[i:])
			k, _ := strconv.Atoi(m[1])
			out = append(out, Citation{Line: start, Section: section, Item: k})
			i += len(m[0])
		} else {
			num := sectionNum.FindString(text[i:])
			if num == "" {
				return out, start
			}
			i += len(num)
			section = num
			item := 0
			if m := itemForm.FindStringSubmatch(text[i:]); m != nil && (m[1] != " q" || num == questionsSection) {
				item, _ = strconv.Atoi(m[2])
				i += len(m[0])
			}
			out = append(out, Citation{Line: start, Section: num, Item: item})
		}
		sep := separator.FindStringSubmatch(text[i:])
		if sep == nil {
			return out, i
		}
		i += len(sep[1])
	}
}

// lineStarts returns the offset where each line starts.
func lineStarts(text string) []int {
	starts := []int{0}
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' && i+1 < len(text) {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// lineOf returns the 1-based line holding offset off.
func lineOf(starts []int, off int) int {
	lo, hi := 0, len(starts)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if starts[mid] <= off {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo + 1
}

// Anchors are what a document offers to cite: its numbered headings and,
// per section, the numbers of its table rows and numbered list items.
type Anchors struct {
	Sections map[string]bool
	Items    map[string]map[int]bool
}

var (
	heading  = regexp.MustCompile(`^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s`)
	tableRow = regexp.MustCompile(`^\|\s*(\d+)\s*\|`)
	listItem = regexp.MustCompile(`^(\d+)\.\s`)
)

// ParseAnchors reads the anchors of a Markdown document. Text inside code
// fences is skipped.
func ParseAnchors(md string) Anchors {
	a := Anchors{Sections: map[string]bool{}, Items: map[string]map[int]bool{}}
	current := ""
	fenced := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		if m := heading.FindStringSubmatch(line); m != nil {
			current = m[1]
			a.Sections[current] = true
			continue
		}
		if current == "" {
			continue
		}
		m := tableRow.FindStringSubmatch(line)
		if m == nil {
			m = listItem.FindStringSubmatch(line)
		}
		if m != nil {
			k, _ := strconv.Atoi(m[1])
			if a.Items[current] == nil {
				a.Items[current] = map[int]bool{}
			}
			a.Items[current][k] = true
		}
	}
	return a
}

// Resolves reports whether the citation names a section, row or question
// of the document.
func (a Anchors) Resolves(c Citation) bool {
	if !a.Sections[c.Section] {
		return false
	}
	return c.Item == 0 || a.Items[c.Section][c.Item]
}
