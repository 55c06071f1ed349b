package scenario

import "testing"

func TestJSONDocuments(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"one report after warnings", "Warning: deprecated\n{\"a\":1}\n", 1},
		{"namespaced reports separated by ---", "{\"a\":1}\n---\n{\"b\":2}\n---\n{\"c\":3}\n", 3},
		{"array", "[{\"a\":1},{\"b\":2}]", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := jsonDocuments([]byte(tt.in))
			if err != nil || len(docs) != tt.want {
				t.Errorf("jsonDocuments(%q) = %d docs, %v; want %d", tt.in, len(docs), err, tt.want)
			}
		})
	}
}
