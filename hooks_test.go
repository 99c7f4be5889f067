package foreign

// withHooks makes the handles that f opens with the test settings h (a
// starting position, the pipe wake-up). Tests do not run in parallel, so
// one package variable serves.
func withHooks(h hooks, f func()) {
	was := testHooks
	testHooks = h
	defer func() { testHooks = was }()
	f()
}
