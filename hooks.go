// hooks.go: the settings only the tests change.

package foreign

// hooks are settings only the tests change, kept out of the public
// configs: the ring's first position (to test wrap-around) and the
// wake-up mechanism (to run the portable pipe fallback on Linux). Users'
// programs always see the zero value.
type hooks struct {
	start uint64
	pipe  bool
}

// testHooks is what open uses; the tests set it (withHooks in
// hooks_test.go) around the handles they make, one test at a time.
var testHooks hooks
