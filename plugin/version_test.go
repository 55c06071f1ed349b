package plugin

import (
	"runtime/debug"
	"testing"
)

func TestBuildVersion(t *testing.T) {
	checkout := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123abc"}}}
	tests := []struct {
		name             string
		version, commit  string
		bi               *debug.BuildInfo
		wantVer, wantCom string
	}{
		{name: "release build (ldflags)", version: "1.2.3", commit: "fedcba", bi: checkout, wantVer: "1.2.3", wantCom: "fedcba"},
		{name: "go install @version", version: "dev", commit: "unknown", bi: &debug.BuildInfo{Main: debug.Module{Version: "v0.1.0"}}, wantVer: "v0.1.0", wantCom: "unknown"},
		{name: "go build in a checkout", version: "dev", commit: "unknown", bi: checkout, wantVer: "dev", wantCom: "0123abc"},
		{name: "no build info", version: "dev", commit: "unknown", wantVer: "dev", wantCom: "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, c := buildVersion(tt.version, tt.commit, tt.bi)
			if v != tt.wantVer || c != tt.wantCom {
				t.Errorf("buildVersion() = %q, %q, want %q, %q", v, c, tt.wantVer, tt.wantCom)
			}
		})
	}
}
