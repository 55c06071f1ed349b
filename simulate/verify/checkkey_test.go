package verify

import (
	"reflect"
	"testing"
)

// nonZero is a value of t that differs from its zero value.
func nonZero(t reflect.Type) reflect.Value {
	v := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(1)
	case reflect.Slice:
		v = reflect.MakeSlice(t, 1, 1)
		v.Index(0).Set(nonZero(t.Elem()))
	case reflect.Map:
		v = reflect.MakeMap(t)
		v.SetMapIndex(nonZero(t.Key()), nonZero(t.Elem()))
	case reflect.Struct:
		v.Field(0).Set(nonZero(t.Field(0).Type))
	}
	return v
}

// TestCheckKeyCoversEveryField: changing any one field of a check names another check, so
// the run's memos never hand one check's answer to another.
func TestCheckKeyCoversEveryField(t *testing.T) {
	for _, check := range []any{SignatureCheck{}, BundleCheck{}, AttestationCheck{}, KubewardenKeyCheck{}, KubewardenKeylessCheck{}, KubewardenCertificateCheck{}} {
		typ := reflect.TypeOf(check)
		t.Run(typ.Name(), func(t *testing.T) {
			seen := map[string]string{checkKey(check): "zero value"}
			for i := 0; i < typ.NumField(); i++ {
				v := reflect.New(typ).Elem()
				if !v.Field(i).CanSet() {
					t.Fatalf("%s.%s is unexported: checkKey still covers it, this test cannot", typ.Name(), typ.Field(i).Name)
				}
				v.Field(i).Set(nonZero(typ.Field(i).Type))
				k := checkKey(v.Interface())
				if other, dup := seen[k]; dup {
					t.Errorf("setting %s gives the key of %s", typ.Field(i).Name, other)
				}
				seen[k] = typ.Field(i).Name
			}
		})
	}
}

func TestCheckKeyKeepsStringsApart(t *testing.T) {
	a := checkKey(SignatureCheck{Image: "a", PublicKey: "bc"})
	b := checkKey(SignatureCheck{Image: "ab", PublicKey: "c"})
	if a == b {
		t.Errorf("checkKey(%q, %q) = checkKey(%q, %q) = %q", "a", "bc", "ab", "c", a)
	}
	if checkKey(SignatureCheck{}) == checkKey(BundleCheck{}) {
		t.Error("checks of different types share a key")
	}
}
