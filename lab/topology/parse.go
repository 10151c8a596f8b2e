package topology

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// File is a parsed topology file: the raw topology plus where each of its
// values was written, so that diagnostics carry line numbers.
type File struct {
	// Name is the file name used in messages; files named by run.files are
	// relative to its directory.
	Name string
	// Topology is the file's content, as written.
	Topology Topology

	lines Lines
}

// NewFile makes a File of a topology parsed as part of another document (a
// scenario's inline topology): lines are its values' lines, by YAML path
// relative to the topology (see Lines.Under).
func NewFile(name string, t Topology, lines Lines) *File {
	return &File{Name: name, Topology: t, lines: lines}
}

// Line returns the line on which path (or, if path was not written, its
// nearest written ancestor) appears; 0 if none is known.
func (f *File) Line(path string) int { return f.lines.Line(path) }

// Lines maps the YAML path of every value of a document to the line of its
// key or item.
type Lines map[string]int

// Line returns the line on which path (or, if path was not written, its
// nearest written ancestor) appears; 0 if none is known.
func (l Lines) Line(path string) int {
	for {
		if n, ok := l[path]; ok {
			return n
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

// Under returns the lines of the values under path, with paths relative to
// it: Under("topology") maps "vpcs.a" to the line of "topology.vpcs.a". The
// root ("") maps to path's own line.
func (l Lines) Under(path string) Lines {
	out := Lines{"": l.Line(path)}
	for p, n := range l {
		switch {
		case strings.HasPrefix(p, path+"."):
			out[p[len(path)+1:]] = n
		case strings.HasPrefix(p, path+"["):
			// An index, or a key that is not a plain name, right under
			// path: ["odd key"] and [3] are children of the root.
			out[p[len(path):]] = n
		}
	}
	return out
}

// MaxFileSize is the largest topology file read, in bytes. The largest lab
// the count limits allow (limits.go) is well under 1 MiB of YAML; the cap
// keeps `validate -f /dev/zero` or a mistyped path to a disk image from
// reading without bound.
const MaxFileSize = 4 << 20

// MaxValues bounds the YAML values Parse visits, counting every value once
// for each place an alias or merge key (<<) repeats it. A topology written
// out in full takes some 15 bytes a value, so a file of MaxFileSize holds
// about half this many; an alias bomb (a few KB that expands to billions of
// values) stops here, after about a second and under 100 MB, instead of
// exhausting memory and time.
const MaxValues = 1 << 19

// ErrFileTooLarge is returned when a topology file exceeds MaxFileSize.
var ErrFileTooLarge = fmt.Errorf("the file is larger than %d MiB, the most a topology file may hold", MaxFileSize>>20)

// Load reads and parses the topology file at path. See Parse.
func Load(path string) (*File, error) {
	return LoadContext(context.Background(), path)
}

// LoadContext reads and parses the topology file at path, giving up when
// ctx ends. See ReadAll and ParseContext.
func LoadContext(ctx context.Context, path string) (*File, error) {
	data, err := ReadFile(ctx, path)
	if err != nil {
		return nil, err
	}
	return ParseContext(ctx, data, path)
}

// ReadFile reads the topology file at path with ReadAll's limits. Opening a
// named pipe blocks until a writer comes, so the open, too, gives way to ctx.
func ReadFile(ctx context.Context, path string) ([]byte, error) {
	return ReadFileOf(ctx, "topology", path)
}

// ReadFileOf is ReadFile for a file of another kind (a scenario), named so
// in errors: "read scenario "x.yaml": ...".
func ReadFileOf(ctx context.Context, kind, path string) ([]byte, error) {
	type opened struct {
		fh  *os.File
		err error
	}
	done := make(chan opened, 1)
	go func() {
		fh, err := os.Open(path)
		done <- opened{fh, err}
	}()
	var fh *os.File
	select {
	case <-ctx.Done():
		// Close the file should the open complete after all.
		go func() {
			if o := <-done; o.fh != nil {
				o.fh.Close()
			}
		}()
		return nil, fmt.Errorf("read %s %q: %w", kind, path, ctx.Err())
	case o := <-done:
		if o.err != nil {
			return nil, fmt.Errorf("read %s: %w", kind, o.err)
		}
		fh = o.fh
	}
	defer fh.Close()
	data, err := ReadAll(ctx, fh)
	if err != nil {
		return nil, fmt.Errorf("read %s %q: %w", kind, path, err)
	}
	return data, nil
}

// readChunk is how much ReadAll reads between checks of its context.
const readChunk = 64 << 10

// ReadAll reads a topology file from r: at most MaxFileSize bytes
// (ErrFileTooLarge beyond), returning ctx's error as soon as ctx ends. The
// read runs on its own goroutine because a read from a terminal or a pipe
// can block forever and cannot be interrupted; if ctx ends first, that
// goroutine is left to finish (or not) on its own, which is harmless in a
// command that is about to exit.
func ReadAll(ctx context.Context, r io.Reader) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var buf []byte
		lr := io.LimitReader(r, MaxFileSize+1)
		for ctx.Err() == nil {
			buf = slices.Grow(buf, readChunk)
			n, err := lr.Read(buf[len(buf):min(cap(buf), len(buf)+readChunk)])
			buf = buf[:len(buf)+n]
			if len(buf) > MaxFileSize {
				done <- result{err: ErrFileTooLarge}
				return
			}
			if errors.Is(err, io.EOF) {
				done <- result{data: buf}
				return
			}
			if err != nil {
				done <- result{err: err}
				return
			}
		}
		done <- result{err: ctx.Err()}
	}()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-done:
		return res.data, res.err
	}
}

// Parse decodes a topology file strictly. Syntax errors, unknown fields,
// duplicate keys and values of the wrong YAML type are returned together as
// Diagnostics (an error); the semantic checks are Validate's.
func Parse(data []byte, name string) (*File, error) {
	return ParseContext(context.Background(), data, name)
}

// ParseContext is Parse that returns ctx's error as soon as ctx ends. The
// YAML library cannot be interrupted, so the parse runs on its own
// goroutine; the walk over the document checks ctx as it goes, so that
// goroutine stops soon after.
func ParseContext(ctx context.Context, data []byte, name string) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("topology %q: %w", name, ErrFileTooLarge)
	}
	type result struct {
		f   *File
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := parse(ctx, data, name)
		done <- result{f, err}
	}()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-done:
		return res.f, res.err
	}
}

func parse(ctx context.Context, data []byte, name string) (*File, error) {
	var t Topology
	lines, err := decodeStrict(ctx, data, "topology", &t)
	if err != nil {
		return nil, err
	}
	return &File{Name: name, Topology: t, lines: lines}, nil
}

// DecodeStrict decodes one YAML document into out (a pointer to a raw type
// written like this package's: yaml, desc and schema tags) the way Parse
// decodes a topology: syntax errors, unknown fields (with a suggestion),
// duplicate keys and values of the wrong YAML type are returned together as
// Diagnostics, with their YAML paths and lines; merge keys and aliases are
// expanded within MaxValues, and data over MaxFileSize is refused. kind
// names the document in messages ("a scenario file holds one YAML
// document"). It returns the line of every path, for the caller's own
// diagnostics, and ctx's error as soon as ctx ends (see ParseContext); the
// abandoned decode may then still write to out, which the caller must drop.
func DecodeStrict(ctx context.Context, data []byte, kind string, out any) (Lines, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("the %s file is larger than %d MiB, the most a file may hold", kind, MaxFileSize>>20)
	}
	type result struct {
		lines Lines
		err   error
	}
	done := make(chan result, 1)
	go func() {
		lines, err := decodeStrict(ctx, data, kind, out)
		done <- result{lines, err}
	}()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-done:
		return res.lines, res.err
	}
}

func decodeStrict(ctx context.Context, data []byte, kind string, out any) (Lines, error) {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, fmt.Errorf("decode %s: need a non-nil pointer, got %T", kind, out)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Diagnostics{{Line: 1, Message: "the file is empty"}}
		}
		return nil, Diagnostics{yamlErrorDiagnostic(err)}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, Diagnostics{{Line: extra.Line, Message: fmt.Sprintf("a %s file holds one YAML document; found a second one", kind)}}
	case !errors.Is(err, io.EOF):
		return nil, Diagnostics{yamlErrorDiagnostic(err)}
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, Diagnostics{{Line: 1, Message: "the file is empty"}}
	}

	w := &walker{ctx: ctx, kind: kind, lines: Lines{"": 1}}
	w.walk(doc.Content[0], rv.Type().Elem(), "", 0)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(w.diags) > 0 {
		sortDiagnostics(w.diags)
		return nil, w.diags
	}

	// The walker has checked every key and type; the strict decoder is the
	// belt to its braces.
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(out); err != nil {
		return nil, Diagnostics{yamlErrorDiagnostic(err)}
	}
	return w.lines, nil
}

var yamlLineRE = regexp.MustCompile(`line (\d+): `)

// yamlErrorDiagnostic turns a yaml.v3 error ("yaml: line 3: mapping values
// are not allowed in this context") into a diagnostic with a line.
func yamlErrorDiagnostic(err error) Diagnostic {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	d := Diagnostic{Message: msg}
	if m := yamlLineRE.FindStringSubmatchIndex(msg); m != nil && m[0] == 0 {
		d.Line, _ = strconv.Atoi(msg[m[2]:m[3]])
		d.Message = msg[m[1]:]
	}
	d.Message = "invalid YAML: " + d.Message
	return d
}

// walker checks a YAML node tree against the raw Go types, recording the line
// of every path and collecting every structural problem (not just the first).
type walker struct {
	ctx     context.Context
	kind    string // what the document is, for messages
	lines   Lines
	diags   Diagnostics
	visited int  // values visited so far, counting each alias expansion
	stopped bool // over MaxValues, or ctx ended: walk no further
}

// ctxCheckEvery is how many values the walker visits between checks of its
// context: often enough to stop within milliseconds, rarely enough to cost
// nothing.
const ctxCheckEvery = 4096

// visit counts one value and reports whether the walk may go on.
func (w *walker) visit(n *yaml.Node, path string) bool {
	if w.stopped {
		return false
	}
	w.visited++
	if w.visited > MaxValues {
		w.stopped = true
		w.errorf(n.Line, path, "the document expands to more than %d values (counting every repetition by an alias or a merge key <<); a %s this large is not supported", MaxValues, w.kind)
		return false
	}
	if w.visited%ctxCheckEvery == 0 && w.ctx.Err() != nil {
		w.stopped = true
		return false
	}
	return true
}

// maxDepth bounds the walk so that alias cycles cannot loop forever.
const maxDepth = 64

func (w *walker) errorf(line int, path, format string, args ...any) {
	w.diags = append(w.diags, Diagnostic{Path: path, Line: line, Message: fmt.Sprintf(format, args...)})
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string, depth int) {
	if !w.visit(n, path) {
		return
	}
	if depth > maxDepth {
		w.errorf(n.Line, path, "the document nests too deeply (alias cycle?)")
		return
	}
	if n.Kind == yaml.AliasNode {
		w.walk(n.Alias, t, path, depth+1)
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isNull(n) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if !w.expect(n, yaml.MappingNode, path) {
			return
		}
		fields := yamlFields(t)
		for _, p := range w.pairs(n, path, depth) {
			i := slices.IndexFunc(fields, func(f field) bool { return f.name == p.key.Value })
			if i < 0 {
				w.errorf(p.key.Line, path, "unknown field %q%s", p.key.Value, suggest(p.key.Value, fields))
				continue
			}
			child := childPath(path, p.key.Value)
			w.lines[child] = p.key.Line
			w.walk(p.value, fields[i].typ, child, depth+1)
		}
	case reflect.Map:
		if !w.expect(n, yaml.MappingNode, path) {
			return
		}
		for _, p := range w.pairs(n, path, depth) {
			child := childPath(path, p.key.Value)
			w.lines[child] = p.key.Line
			w.walk(p.value, t.Elem(), child, depth+1)
		}
	case reflect.Slice:
		if !w.expect(n, yaml.SequenceNode, path) {
			return
		}
		for i, item := range n.Content {
			child := indexPath(path, i)
			w.lines[child] = item.Line
			w.walk(item, t.Elem(), child, depth+1)
		}
	default:
		if !w.expect(n, yaml.ScalarNode, path) {
			return
		}
		v := reflect.New(t)
		if err := n.Decode(v.Interface()); err != nil {
			w.errorf(n.Line, path, "expected %s, got %q", kindName(t), n.Value)
		}
	}
}

// expect reports whether n has the wanted kind, recording an error if not.
func (w *walker) expect(n *yaml.Node, want yaml.Kind, path string) bool {
	if n.Kind == want {
		return true
	}
	got := nodeKindName(n)
	switch want {
	case yaml.MappingNode:
		w.errorf(n.Line, path, "expected a mapping, got %s", got)
	case yaml.SequenceNode:
		w.errorf(n.Line, path, "expected a list, got %s", got)
	default:
		w.errorf(n.Line, path, "expected a single value, got %s", got)
	}
	return false
}

type pair struct{ key, value *yaml.Node }

// pairs returns the key/value pairs of a mapping with YAML merge keys (<<)
// expanded, reporting duplicate and non-scalar keys. Explicit keys win over
// merged ones, and earlier merges over later ones, as in yaml.v3.
func (w *walker) pairs(n *yaml.Node, path string, depth int) []pair {
	var out []pair
	seen := map[string]int{} // key -> line
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !w.visit(k, path) {
			return out
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			w.errorf(k.Line, path, "keys must be plain names, got %s", nodeKindName(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			w.errorf(k.Line, path, "duplicate key %q (first defined on line %d)", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, pair{k, v})
	}
	for _, m := range merges {
		for _, src := range mergeSources(m) {
			if !w.visit(src, path) {
				return out
			}
			if depth > maxDepth || src.Kind != yaml.MappingNode {
				w.errorf(m.Line, path, "a merge key (<<) needs a mapping or a list of mappings")
				continue
			}
			for _, p := range w.pairs(src, path, depth+1) {
				if _, dup := seen[p.key.Value]; dup {
					continue
				}
				seen[p.key.Value] = p.key.Line
				out = append(out, p)
			}
		}
	}
	return out
}

func mergeSources(n *yaml.Node) []*yaml.Node {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.SequenceNode {
		return []*yaml.Node{n}
	}
	var out []*yaml.Node
	for _, item := range n.Content {
		if item.Kind == yaml.AliasNode {
			item = item.Alias
		}
		out = append(out, item)
	}
	return out
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func nodeKindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	default:
		return strconv.Quote(n.Value)
	}
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	default:
		return "a string"
	}
}

// suggest proposes the closest known field name for a misspelt one.
func suggest(name string, fields []field) string {
	best, bestDist := "", 3
	for _, f := range fields {
		if d := editDistance(name, f.name); d < bestDist {
			best, bestDist = f.name, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return " (known fields: " + strings.Join(names, ", ") + ")"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// field is one YAML-visible field of a raw struct type.
type field struct {
	name   string // YAML key
	index  int
	typ    reflect.Type
	desc   string
	schema string
}

// yamlFields lists the YAML keys of a raw struct type, in declaration order.
func yamlFields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "-" || !sf.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		out = append(out, field{name: name, index: i, typ: sf.Type, desc: sf.Tag.Get("desc"), schema: sf.Tag.Get("schema")})
	}
	return out
}

var plainKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ChildPath appends a map key or field name to a YAML path, as diagnostics
// write it: a.b, or a["odd key"] for keys that are not plain names.
func ChildPath(parent, key string) string { return childPath(parent, key) }

// IndexPath appends a list index to a YAML path: a[3].
func IndexPath(parent string, i int) string { return indexPath(parent, i) }

// childPath appends a map key to a YAML path: a.b, or a["odd key"] for keys
// that are not plain names.
func childPath(parent, key string) string {
	if !plainKeyRE.MatchString(key) {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// indexPath appends a list index to a YAML path: a[3].
func indexPath(parent string, i int) string { return parent + "[" + strconv.Itoa(i) + "]" }

// parentPath strips the last element of a YAML path.
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		// Either [N] or ["key"]; find the opening bracket outside quotes.
		inQuote := false
		for i := len(path) - 2; i >= 0; i-- {
			switch path[i] {
			case '"':
				if i == 0 || path[i-1] != '\\' {
					inQuote = !inQuote
				}
			case '[':
				if !inQuote {
					return path[:i]
				}
			}
		}
		return ""
	}
	if i := strings.LastIndexAny(path, ".]"); i >= 0 {
		if path[i] == ']' {
			return path[:i+1]
		}
		return path[:i]
	}
	return ""
}
