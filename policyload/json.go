package policyload

import (
	"encoding/json"

	"github.com/kubectl-verify/kubectl-verify/internal/manifest"
)

func jsonOf(o manifest.Object) ([]byte, error) { return json.Marshal(o.Obj) }
