package fq

import (
	"reflect"
	"strings"
	"testing"
	"unicode"
)

// The Go mirror of fq_ctl matches the C layout: every named Go field has a
// C field of the same name (headCache for head_cache), offset and size,
// every C field has its Go field, and the sizes are equal.
func TestLayout(t *testing.T) {
	cfields, csize := cLayout()
	byName := map[string]Field{}
	for _, f := range cfields {
		byName[f.Name] = f
	}
	gt := reflect.TypeFor[ctl]()
	if gt.Size() != csize {
		t.Errorf("size: Go %d, C %d", gt.Size(), csize)
	}
	seen := map[string]bool{}
	for i := range gt.NumField() {
		f := gt.Field(i)
		if f.Name == "_" {
			continue
		}
		name := snake(f.Name)
		seen[name] = true
		cf, ok := byName[name]
		switch {
		case !ok:
			t.Errorf("Go field %s has no C field %s", f.Name, name)
		case cf.Offset != f.Offset || cf.Size != f.Type.Size():
			t.Errorf("%s: Go offset %d size %d, C offset %d size %d", name, f.Offset, f.Type.Size(), cf.Offset, cf.Size)
		}
	}
	for _, f := range cfields {
		if !seen[f.Name] {
			t.Errorf("C field %s has no Go field", f.Name)
		}
	}
	if len(cfields) < 30 {
		t.Errorf("only %d C fields listed", len(cfields))
	}
}

// snake turns a Go field name into the C one: headCache -> head_cache,
// handleID -> handle_id.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 && !unicode.IsUpper(rune(s[i-1])) {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
