package bench

import "testing"

// A shortened soak: the footprint stays flat while millions of checked
// messages flow (foreignbench -scenarios soak runs the full 100 M).
func TestSoakFlat(t *testing.T) {
	n := uint64(10_000_000)
	if raceEnabled || testing.Short() {
		n = 1_000_000
	}
	r, err := MeasureSoak(SoakConfig{Messages: n, Samples: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Samples {
		t.Logf("%+v", s)
	}
	if err := r.Flat(); err != nil {
		t.Error(err)
	}
}
