package rest

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// TestExportFilterEveryKind: every field of every kind's filter has a query
// parameter of the field's input name (time as time.from, time.to, time.last), so
// that a new filter field or field type cannot go unread by the exports.
func TestExportFilterEveryKind(t *testing.T) {
	t.Parallel()
	for _, k := range model.AllKinds {
		t.Run(string(k), func(t *testing.T) {
			want, fields := db.NewFilter(k)
			filter, err := exportFilter(k, url.Values{})
			if err != nil {
				t.Fatal(err)
			}
			if reflect.TypeOf(filter) != reflect.TypeOf(want) {
				t.Fatalf("filter is a %T, want %T", filter, want)
			}
			_, err = exportFilter(k, url.Values{"no-such-parameter": {"x"}})
			if err == nil {
				t.Fatal("an unknown parameter is accepted")
			}
			_, accepted, _ := strings.Cut(err.Error(), " accepts ")
			params := map[string]bool{}
			for _, p := range strings.Split(accepted, ", ") {
				params[p] = true
			}
			for name := range fields {
				if name == "time" {
					name = "time.from"
				}
				if !params[name] {
					t.Errorf("no parameter %s (%s)", name, err)
				}
			}
		})
	}
}
