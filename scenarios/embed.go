package scenarios

import "embed"

// FS holds the lab files (*.yaml) of this directory.
//
//go:embed *.yaml
var FS embed.FS

// DefaultName is the file name of the default lab in FS.
const DefaultName = "default.yaml"

// Default returns the default lab file.
func Default() []byte {
	data, err := FS.ReadFile(DefaultName)
	if err != nil {
		// The file is embedded at build time: this cannot happen.
		panic("scenarios: default lab missing from the binary: " + err.Error())
	}
	return data
}
