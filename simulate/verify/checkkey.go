package verify

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// checkKey names a check for the run's memos: its type and every field. Strings (keys,
// certificates, chains) are written as they are, length first, where %#v would quote them
// byte by byte: over thousands of resources that quoting was a tenth of a run.
func checkKey(c any) string {
	var b strings.Builder
	v := reflect.ValueOf(c)
	b.WriteString(v.Type().String())
	writeKey(&b, v)
	return b.String()
}

func writeKey(b *strings.Builder, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	case reflect.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Struct:
		b.WriteByte('{')
		for i := 0; i < v.NumField(); i++ {
			writeKey(b, v.Field(i))
			b.WriteByte(',')
		}
		b.WriteByte('}')
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			b.WriteString("nil")
			return
		}
		b.WriteByte('[')
		for i := 0; i < v.Len(); i++ {
			writeKey(b, v.Index(i))
			b.WriteByte(',')
		}
		b.WriteByte(']')
	default:
		// Maps (fmt sorts their keys), numbers, pointers: small, and %#v is exact.
		s := fmt.Sprintf("%#v", v)
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
}
