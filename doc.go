// Package kubectlverify holds repository-wide tests (import boundaries); the product lives
// in cmd/, plugin/, policyload/ and simulate/.
package kubectlverify
