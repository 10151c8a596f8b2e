// Package docscheck keeps the citations of the GWLB behaviour document
// true. Code comments, docs, validation warnings and test names cite it as
// "spec §N", "spec §N.M", "§6.6 #K" (row K of a numbered table) or "§11 qK"
// (open question K); its tests read docs/gwlb-behaviour.md and fail, naming
// file and line, for any citation in a tracked .go, .md, .yaml or .json file
// that names a section, row or question the document does not have.
//
// The scan is textual, not semantic: it finds citations by their "spec §"
// prefix, a "§N #K" row form, a Go string literal that starts with "§" (the
// form validation diagnostics carry), or a Markdown table cell that holds
// nothing but citations. A bare "§N" in prose is not recognised, because
// RFCs and DESIGN are cited the same way; write "spec §N".
//
// It also keeps the topology snippets of the docs valid: YAMLBlocks finds
// the fenced YAML blocks of a page, marked "lab" (a whole topology) or
// "node" (instance entries, which WithNodes puts into the page's lab), and
// the tests validate every one of docs/appliances.md with lab/topology.
package docscheck
