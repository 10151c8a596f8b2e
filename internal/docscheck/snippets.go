package docscheck

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Topology snippets in the docs. A fenced YAML block is marked in its info
// string: "```yaml lab" is a whole topology file, "```yaml node" one or
// more entries of `instances:` that belong in the page's lab (the first
// "lab" block), in its VPC `security`, as the targets of its GWLB `gwlb-1`.
// docs/appliances.md holds its recipes so; a test validates every one.

// Snippet kinds, as the fence names them.
const (
	SnippetLab  = "lab"
	SnippetNode = "node"
)

// Block is one fenced YAML block of a Markdown file.
type Block struct {
	// Kind is the word after "yaml" in the fence ("lab", "node"), or "".
	Kind string
	// Line is the 1-based line of the block's first YAML line.
	Line int
	Text string
}

// YAMLBlocks returns the fenced blocks of a Markdown document whose info
// string starts with yaml, in order.
func YAMLBlocks(doc string) []Block {
	var out []Block
	var cur *Block
	var body []string
	for i, l := range strings.Split(doc, "\n") {
		switch {
		case cur == nil && strings.HasPrefix(l, "```yaml"):
			cur = &Block{Line: i + 2}
			if f := strings.Fields(strings.TrimPrefix(l, "```yaml")); len(f) > 0 {
				cur.Kind = f[0]
			}
			body = nil
		case cur != nil && strings.HasPrefix(l, "```"):
			cur.Text = strings.Join(body, "\n") + "\n"
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body = append(body, l)
		}
	}
	return out
}

// WithNodes returns the topology lab (YAML) with the instances of its VPC
// `security` replaced by nodes (YAML: a map of instance entries), which
// also become the targets of its GWLB `gwlb-1`.
func WithNodes(lab, nodes []byte) ([]byte, error) {
	var l map[string]any
	if err := yaml.Unmarshal(lab, &l); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	var entries map[string]any
	if err := yaml.Unmarshal(nodes, &entries); err != nil {
		return nil, fmt.Errorf("node entries: %w", err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("node entries: want a map of instance entries, got none")
	}
	security, ok := dig(l, "vpcs", "security").(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the lab has no vpcs.security to put nodes in")
	}
	tg, ok := dig(l, "gwlbs", "gwlb-1", "target_group").(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the lab has no gwlbs.gwlb-1.target_group for the nodes")
	}
	security["instances"] = entries
	var targets []string
	for name := range entries {
		targets = append(targets, name)
	}
	slices.Sort(targets)
	tg["targets"] = targets
	return yaml.Marshal(l)
}

func dig(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}
