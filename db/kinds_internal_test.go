package db

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/loggraph/loggraph/model"
)

// TestKindsDescribed: every kind has a description, and it is complete.
func TestKindsDescribed(t *testing.T) {
	for _, k := range model.AllKinds {
		ki := kindOf(k)
		if ki == nil {
			t.Fatalf("%s: not in kinds", k)
		}
		if ki.kind != k || ki.idType == "" || ki.severity == "" || len(ki.search) == 0 || ki.source == "" ||
			ki.gqlType == "" || ki.message == nil || ki.newLog == nil || ki.list == nil || ki.contextOf == nil || ki.countKey == nil ||
			ki.record == nil || len(ki.copyColumns) == 0 || ki.copyRow == nil {
			t.Errorf("%s: incomplete description %+v", k, ki)
		}
		if got := ki.newLog().Kind(); got != k {
			t.Errorf("%s: newLog makes a %s log", k, got)
		}
	}
	if len(kinds) != len(model.AllKinds) {
		t.Errorf("kinds describes %d kinds, model has %d", len(kinds), len(model.AllKinds))
	}
}

// TestFilterFieldsClassified: every field of every kind's filter struct says what
// the rollup may do with it, so that a new field cannot silently be left out of
// the totals read from log_counts (an unclassified field would count rows, but the
// test makes the choice explicit); and every classified name is a field.
func TestFilterFieldsClassified(t *testing.T) {
	filters := map[model.LogKind]any{
		model.KindApp:          model.AppLogFilter{},
		model.KindAPIRequest:   model.APIRequestLogFilter{},
		model.KindIntegration:  model.IntegrationLogFilter{},
		model.KindAction:       model.ActionLogFilter{},
		model.KindAPIReference: model.APIReferenceLogFilter{},
	}
	for _, k := range model.AllKinds {
		spec := kindOf(k).filter
		typ := reflect.TypeOf(filters[k])
		if spec.typ != typ {
			t.Errorf("%s: filter is %v, want %v", k, spec.typ, typ)
			continue
		}
		names := map[string]bool{}
		windows := 0
		for i := range typ.NumField() {
			f := typ.Field(i)
			names[f.Name] = true
			switch spec.fields[f.Name].use {
			case fieldWindow:
				windows++
				if f.Type != reflect.TypeFor[*model.TimeRange]() {
					t.Errorf("%s: %s.%s is the window but not a *model.TimeRange", k, typ.Name(), f.Name)
				}
			case fieldRollup:
				if len(kindOf(k).rollup) == 0 {
					t.Errorf("%s: %s.%s is a rollup dimension, but the kind keeps none", k, typ.Name(), f.Name)
				}
			case fieldRows:
			default:
				t.Errorf("%s: %s.%s is not classified for the rollup (fieldWindow, fieldRollup or fieldRows in db/kinds.go)", k, typ.Name(), f.Name)
			}
		}
		if windows != 1 || spec.fields["Time"].use != fieldWindow {
			t.Errorf("%s: %s needs exactly one window, Time (has %d)", k, typ.Name(), windows)
		}
		for name := range spec.fields {
			if !names[name] {
				t.Errorf("%s: %s has no field %s", k, typ.Name(), name)
			}
		}
	}
}

// TestFilterInputNames: each filter field's input name (which exports' query
// parameters use too) is a field of the kind's GraphQL filter input, and every
// field of that input is a filter field.
func TestFilterInputNames(t *testing.T) {
	areas, err := filepath.Glob("../graph/schema/*.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	var sources []*ast.Source
	for _, path := range append([]string{"../schema.graphqls"}, areas...) {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, &ast.Source{Name: path, Input: string(src)})
	}
	schema, gqlErr := gqlparser.LoadSchema(sources...)
	if gqlErr != nil {
		t.Fatal(gqlErr)
	}
	for _, k := range model.AllKinds {
		ki := kindOf(k)
		input := schema.Types[ki.gqlType+"Filter"]
		if input == nil {
			t.Errorf("%s: no input %sFilter in the schema", k, ki.gqlType)
			continue
		}
		want := map[string]bool{}
		for _, f := range input.Fields {
			want[f.Name] = true
		}
		got := map[string]bool{}
		for name, f := range ki.filter.fields {
			got[f.input] = true
			if !want[f.input] {
				t.Errorf("%s: %s.%s is named %q, not a field of %s", k, ki.filter.typ.Name(), name, f.input, input.Name)
			}
		}
		for name := range want {
			if !got[name] {
				t.Errorf("%s: %s.%s names no filter field", k, input.Name, name)
			}
		}
	}
}
