package db

import (
	"reflect"
	"testing"

	"github.com/loggraph/loggraph/model"
)

func TestPageCuts(t *testing.T) {
	for _, c := range []struct {
		name  string
		rows  []int
		limit int
		want  []int
		more  bool
	}{
		{"empty", nil, 2, nil, false},
		{"short", []int{1}, 2, []int{1}, false},
		{"full", []int{1, 2}, 2, []int{1, 2}, false},
		{"more", []int{1, 2, 3}, 2, []int{1, 2}, true},
		{"first 0", []int{1}, 0, []int{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := model.Page{Limit: c.limit}
			got, more := pageOf(c.rows, p)
			if len(got) != len(c.want) || (len(got) > 0 && !reflect.DeepEqual(got, c.want)) || more != c.more {
				t.Errorf("pageOf = %v, %v; want %v, %v", got, more, c.want, c.more)
			}
			dest := append([]int(nil), c.rows...)
			more = cutPage(&dest, p)
			if len(dest) != len(c.want) || (len(dest) > 0 && !reflect.DeepEqual(dest, c.want)) || more != c.more {
				t.Errorf("cutPage = %v, %v; want %v, %v", dest, more, c.want, c.more)
			}
		})
	}
}

func TestGroupPages(t *testing.T) {
	type row struct{ parent, n int }
	rows := []row{{1, 1}, {1, 2}, {1, 3}, {2, 1}, {3, 1}, {3, 2}}
	got := groupPages(rows, model.Page{Limit: 2}, func(r row) int { return r.parent })
	want := map[int]Paged[row]{
		1: {Rows: []row{{1, 1}, {1, 2}}, More: true},
		2: {Rows: []row{{2, 1}}},
		3: {Rows: []row{{3, 1}, {3, 2}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("groupPages = %v, want %v", got, want)
	}
	if got := groupPages(rows[:1], model.Page{Limit: 0}, func(r row) int { return r.parent }); !reflect.DeepEqual(got, map[int]Paged[row]{1: {More: true}}) {
		t.Errorf("groupPages first 0 = %v", got)
	}
}
