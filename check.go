// check.go: the plain-data check of message types (no pointers anywhere inside).

package foreign

import (
	"fmt"
	"reflect"
)

// checkPlain reports an error unless t is plain data: no pointers, strings,
// slices, maps, interfaces, channels or funcs anywhere inside it. Such a
// value can be copied byte for byte through C memory, where the garbage
// collector does not look and from where no Go pointer may be reached.
func checkPlain(t reflect.Type) error {
	if path := pointerPath(t, t.String()); path != "" {
		return fmt.Errorf("foreign: message type %s is not plain data: %s: %w", t, path, ErrInvalid)
	}
	return nil
}

// pointerPath names the first part of t that holds a pointer, or "".
func pointerPath(t reflect.Type, at string) string {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return ""
	case reflect.Array:
		return pointerPath(t.Elem(), at+"[]")
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if p := pointerPath(f.Type, at+"."+f.Name); p != "" {
				return p
			}
		}
		return ""
	}
	return fmt.Sprintf("%s is a %s", at, t.Kind())
}
