package ivpol

import (
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
)

// common are the options of both environments: CEL's standard library with the extensions
// Kubernetes' base environment enables. Kubernetes' own libraries (url, quantity, ip, ...)
// and Kyverno's other libraries are not declared: an expression calling them is listed as not
// replayed (compile), never refused.
func common() []cel.EnvOption {
	return []cel.EnvOption{
		ext.Strings(ext.StringsVersion(2)),
		ext.Sets(),
		ext.Lists(),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		cel.DefaultUTCTimeZone(true),
	}
}

// policyEnv is the environment of a policy's expressions: its variables as Kyverno's compiler
// declares them (request and namespaceObject untyped here), and the image verification
// functions, declared only (they are evaluated by the engine). Built on first use.
var policyEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(append(common(),
		cel.Variable("resource", cel.DynType),
		cel.Variable("images", cel.MapType(cel.StringType, cel.ListType(cel.StringType))),
		cel.Variable("attestors", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("attestations", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("object", cel.DynType),
		cel.Variable("oldObject", cel.DynType),
		cel.Variable("request", cel.DynType),
		cel.Variable("namespaceObject", cel.DynType),
		cel.Variable("variables", cel.MapType(cel.StringType, cel.DynType)),
		cel.Function("verifyImageSignatures",
			cel.Overload("verify_image_signature_string_stringarray", []*cel.Type{cel.StringType, cel.ListType(cel.DynType)}, cel.IntType)),
		cel.Function("verifyAttestationSignatures",
			cel.Overload("verify_image_attestations_string_string_stringarray", []*cel.Type{cel.StringType, cel.StringType, cel.ListType(cel.DynType)}, cel.IntType)),
		cel.Function("getImageData",
			cel.Overload("get_image_data_string", []*cel.Type{cel.StringType}, cel.DynType)),
		cel.Function("extractPayload",
			cel.Overload("payload_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.DynType)),
	)...)
})

// refEnv is matchImageReferences' environment: the image reference as ref.
var refEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(append(common(), cel.Variable("ref", cel.StringType))...)
})

// PolicyEnv is the environment a policy's expressions compile in: the one Parse checked them
// with. Its image verification functions carry no implementation: the engine binds them per
// evaluation (cel.Functions), since they verify against the request's registry and evidence.
func PolicyEnv() (*cel.Env, error) { return policyEnv() }

// RefEnv is the environment of matchImageReferences expressions.
func RefEnv() (*cel.Env, error) { return refEnv() }
