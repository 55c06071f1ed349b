package plugin

import (
	"errors"
	"fmt"
)

// ThresholdError means the run worked and some result reached --fail-on: exit 1.
type ThresholdError struct{ Results int }

func (e *ThresholdError) Error() string {
	return fmt.Sprintf("%d resource(s) reached the --fail-on threshold", e.Results)
}

// UsageError is a bad flag or flag combination: exit 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// ExitCode maps an error from Execute to the contract's exit codes: nil 0, threshold 1,
// anything else 2 (the tool could not do its job).
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var t *ThresholdError
	if errors.As(err, &t) {
		return 1
	}
	return 2
}
