package topology

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// The JSON schema of the topology file, for editors (yaml-language-server
// and the like). It is generated from the raw types by reflection: the yaml
// tag names the property, the desc tag describes it and the schema tag adds
// required, enum, default, bounds and patterns (see raw.go). Struct types
// become $defs named after the type without its Spec suffix. Timing bounds
// are left out on purpose: lab.lab_timings lets a file go beyond AWS's
// ranges, and Validate, not the editor, says when that is allowed.

// SchemaID is the $id of the schema.
const SchemaID = "https://github.com/gwlb-lab/gwlb-lab/docs/topology.schema.json"

// jsonSchema is the subset of JSON Schema (2020-12) the generator emits.
type jsonSchema struct {
	Schema               string                 `json:"$schema,omitempty"`
	ID                   string                 `json:"$id,omitempty"`
	Title                string                 `json:"title,omitempty"`
	Ref                  string                 `json:"$ref,omitempty"`
	Description          string                 `json:"description,omitempty"`
	Type                 any                    `json:"type,omitempty"`
	Enum                 []any                  `json:"enum,omitempty"`
	Default              any                    `json:"default,omitempty"`
	Minimum              *float64               `json:"minimum,omitempty"`
	Maximum              *float64               `json:"maximum,omitempty"`
	ExclusiveMinimum     *float64               `json:"exclusiveMinimum,omitempty"`
	Pattern              string                 `json:"pattern,omitempty"`
	MinItems             *int                   `json:"minItems,omitempty"`
	Items                *jsonSchema            `json:"items,omitempty"`
	Properties           map[string]*jsonSchema `json:"properties,omitempty"`
	Required             []string               `json:"required,omitempty"`
	PropertyNames        *jsonSchema            `json:"propertyNames,omitempty"`
	AdditionalProperties any                    `json:"additionalProperties,omitempty"`
	Defs                 map[string]*jsonSchema `json:"$defs,omitempty"`
}

// Schema returns the JSON schema of the topology file, indented, with a
// trailing newline. The output only changes when the raw types do.
func Schema() ([]byte, error) {
	return SchemaFor[Topology](SchemaID, "gwlb-lab topology",
		"A gwlb-lab topology file: VPCs, GWLBs, endpoint services and internet hosts. See docs/topology.md.")
}

// SchemaFor returns the JSON schema of a document whose root is the raw
// type T, generated as the topology's is (yaml, desc and schema tags; one
// $def per struct type), so that a document embedding a Topology (a
// scenario) gets the topology's definitions too.
func SchemaFor[T any](id, title, description string) ([]byte, error) {
	g := &schemaGen{defs: map[string]*jsonSchema{}}
	root, err := g.typeSchema(reflect.TypeFor[T]())
	if err != nil {
		return nil, err
	}
	top := &jsonSchema{
		Schema:      "https://json-schema.org/draft/2020-12/schema",
		ID:          id,
		Title:       title,
		Description: description,
		Ref:         root.Ref,
		Defs:        g.defs,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(top); err != nil {
		return nil, fmt.Errorf("encode schema: %w", err)
	}
	return buf.Bytes(), nil
}

type schemaGen struct {
	defs map[string]*jsonSchema
}

// defName names a struct type's $def: VPCSpec -> VPC.
func defName(t reflect.Type) string { return strings.TrimSuffix(t.Name(), "Spec") }

func (g *schemaGen) typeSchema(t reflect.Type) (*jsonSchema, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		name := defName(t)
		if _, done := g.defs[name]; !done {
			g.defs[name] = nil // placeholder: breaks recursion
			def, err := g.structSchema(t)
			if err != nil {
				return nil, err
			}
			g.defs[name] = def
		}
		return &jsonSchema{Ref: "#/$defs/" + name}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("schema: map key of %s is not a string", t)
		}
		elem, err := g.typeSchema(t.Elem())
		if err != nil {
			return nil, err
		}
		return &jsonSchema{Type: "object", PropertyNames: &jsonSchema{Pattern: nameRE.String()}, AdditionalProperties: elem}, nil
	case reflect.Slice:
		elem, err := g.typeSchema(t.Elem())
		if err != nil {
			return nil, err
		}
		return &jsonSchema{Type: "array", Items: elem}, nil
	case reflect.String:
		return &jsonSchema{Type: "string"}, nil
	case reflect.Bool:
		return &jsonSchema{Type: "boolean"}, nil
	case reflect.Int, reflect.Int64, reflect.Int32:
		return &jsonSchema{Type: "integer"}, nil
	case reflect.Float64:
		return &jsonSchema{Type: "number"}, nil
	}
	return nil, fmt.Errorf("schema: unsupported type %s", t)
}

func (g *schemaGen) structSchema(t reflect.Type) (*jsonSchema, error) {
	s := &jsonSchema{Type: "object", Properties: map[string]*jsonSchema{}, AdditionalProperties: false}
	for _, f := range yamlFields(t) {
		prop, err := g.typeSchema(f.typ)
		if err != nil {
			return nil, err
		}
		// A $ref with siblings (description, default) is valid 2020-12;
		// editors on older drafts only lose the description.
		prop.Description = f.desc
		required, err := applySchemaTag(prop, f.typ, f.schema)
		if err != nil {
			return nil, fmt.Errorf("schema: %s.%s: %w", t.Name(), f.name, err)
		}
		if required {
			s.Required = append(s.Required, f.name)
		}
		s.Properties[f.name] = prop
	}
	return s, nil
}

// applySchemaTag applies a schema tag to a property's schema and reports
// whether the property is required.
func applySchemaTag(s *jsonSchema, t reflect.Type, tag string) (bool, error) {
	required := false
	for tag != "" {
		var item string
		if strings.HasPrefix(tag, "pattern=") {
			item, tag = tag, "" // a pattern runs to the end of the tag
		} else {
			item, tag, _ = strings.Cut(tag, ",")
		}
		key, value, _ := strings.Cut(item, "=")
		switch key {
		case "required":
			required = true
		case "nullable":
			if s.AdditionalProperties == nil {
				return false, fmt.Errorf("nullable applies to maps only")
			}
			s.AdditionalProperties = &jsonSchema{Type: []string{"string", "null"}}
		case "enum":
			for v := range strings.SplitSeq(value, "|") {
				s.Enum = append(s.Enum, v)
			}
		case "default":
			v, err := scalarValue(t, value)
			if err != nil {
				return false, err
			}
			s.Default = v
		case "min", "max", "exclusiveMin":
			n, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return false, fmt.Errorf("bad %s %q", key, value)
			}
			switch key {
			case "min":
				s.Minimum = &n
			case "max":
				s.Maximum = &n
			default:
				s.ExclusiveMinimum = &n
			}
		case "minItems":
			n, err := strconv.Atoi(value)
			if err != nil {
				return false, fmt.Errorf("bad minItems %q", value)
			}
			s.MinItems = &n
		case "pattern":
			s.Pattern = value
		default:
			return false, fmt.Errorf("unknown schema tag item %q", item)
		}
	}
	return required, nil
}

// scalarValue parses a default written in a tag as the field's type.
func scalarValue(t reflect.Type, s string) (any, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return strconv.ParseBool(s)
	case reflect.Int, reflect.Int64, reflect.Int32:
		return strconv.Atoi(s)
	case reflect.Float64:
		return strconv.ParseFloat(s, 64)
	case reflect.String:
		return s, nil
	}
	return nil, fmt.Errorf("no default for %s", t)
}
