package model_test

import (
	"reflect"
	"testing"

	"github.com/loggraph/loggraph/model"
)

func TestParseLokiLabels(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []model.LokiLabel
		err  string
	}{
		{`{}`, nil, ""},
		{` { job = "a" ,app="b\"c\\d\n" } `, []model.LokiLabel{{Name: "app", Value: "b\"c\\d\n"}, {Name: "job", Value: "a"}}, ""},
		{`{a="1",}`, []model.LokiLabel{{Name: "a", Value: "1"}}, ""},
		{`job="a"`, nil, `labels must be written {name="value", ...}, got "job=\"a\""`},
		{`{1a="x"}`, nil, `label name "1a" is not valid: want [a-zA-Z_][a-zA-Z0-9_]*`},
		{`{a="x}`, nil, "label a: the value must be a double-quoted string"},
		{`{a="x" b="y"}`, nil, `labels must be written {name="value", ...}, got "{a=\"x\" b=\"y\"}"`},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := model.ParseLokiLabels(c.in)
			if (err == nil) != (c.err == "") || (err != nil && err.Error() != c.err) || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v, %v; want %v, %q", got, err, c.want, c.err)
			}
		})
	}
}
