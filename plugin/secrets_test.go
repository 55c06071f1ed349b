package plugin_test

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-verify/kubectl-verify/simulate/report"
)

// TestCredentialsNeverPrinted: registry credentials, right or wrong, appear in no output
// format and in no error, whether the registry takes them or refuses them.
func TestCredentialsNeverPrinted(t *testing.T) {
	host, ref, creds, key := privateImage(t)
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	policy, res := keyPolicy(t, dir, host, key), pods(t, dir, []string{ref})
	const planted = "PLANTED-p4ssw0rd-7c1f"
	wrong := base64.StdEncoding.EncodeToString([]byte("mallory:" + planted))
	good, bad := filepath.Join(dir, "good.json"), filepath.Join(dir, "bad.json")
	write(t, good, `{"auths":{"`+host+`":{"auth":"`+creds+`"}}}`)
	write(t, bad, `{"auths":{"`+host+`":{"auth":"`+wrong+`","identitytoken":"`+planted+`-token"}}}`)
	secrets := []string{"s3cret", creds, planted, wrong}

	// A config file that does not read, or whose auth is not base64, is refused without its
	// content.
	for name, content := range map[string]string{
		"truncated":       `{"auths":{"` + host + `":{"auth":"` + planted + `"}}`,
		"auth not base64": `{"auths":{"` + host + `":{"auth":"` + planted + `"}}}`,
	} {
		file := filepath.Join(dir, name+".json")
		write(t, file, content)
		out, errOut, _ := run(t, "", "simulate", "--policy", policy, "-f", res, "--registry-config", file)
		if strings.Contains(out+errOut, planted) {
			t.Errorf("--registry-config %s: the output shows the file's secret:\n%s%s", name, out, errOut)
		}
	}

	for _, cfg := range []struct {
		name, file string
		want       string // the signature check's result
	}{
		{"accepted credentials", good, report.ResultPass},
		{"refused credentials", bad, report.ResultFail},
	} {
		t.Run(cfg.name, func(t *testing.T) {
			rep, code, stderr := simulateJSON(t, "--policy", policy, "-f", res, "--registry-config", cfg.file)
			if code == 2 || len(rep.Results) != 1 || signatureCheck(t, rep.Results[0]).Result != cfg.want {
				t.Fatalf("exit %d, %+v (%s): want the signature check to %s, else this test checks nothing", code, rep.Results, stderr, cfg.want)
			}
			var runs [][]string
			for _, o := range report.Formats {
				runs = append(runs, []string{"simulate", "-o", o})
			}
			runs = append(runs, []string{"images", "-o", "json"}, []string{"images"}, []string{"pin", "--dry-run"})
			for _, args := range runs {
				args = append(args, "--policy", policy, "-f", res, "--registry-config", cfg.file)
				out, errOut, code := run(t, "", args...)
				if code == 2 {
					t.Errorf("kubectl verify %s: exit 2: %s", strings.Join(args, " "), errOut)
				}
				for _, s := range secrets {
					if strings.Contains(out, s) || strings.Contains(errOut, s) {
						t.Errorf("kubectl verify %s prints the credential %q:\nstdout:\n%s\nstderr:\n%s", strings.Join(args[:3], " "), s, out, errOut)
					}
				}
			}
		})
	}
}
