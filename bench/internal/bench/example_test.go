package bench_test

import (
	"fmt"
	"log"

	"github.com/foreigncall/foreign/bench/internal/bench"
)

// A latency table for every strategy under one load, as a command-line tool
// would print it.
func ExampleNewProber() {
	stop, err := bench.StartLoad(bench.LoadGC, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	for _, s := range bench.LatencyStrategies {
		p, err := bench.NewProber(bench.LatencyConfig{Strategy: s})
		if err != nil {
			log.Fatal(err)
		}
		err = p.Run(100_000)
		p.Close()
		if err != nil {
			log.Fatal(err)
		}
		r := p.Result()
		fmt.Printf("%-12s p50 %6.0f ns  p99.99 %8.0f ns  max %9.0f ns\n", s, r.P50, r.P9999, r.Max)
	}
}

func ExampleMeasureThroughput() {
	for _, s := range bench.ThroughputStrategies {
		r, err := bench.MeasureThroughput(bench.ThroughputConfig{Strategy: s, Producers: 2})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-12s %6.1f M events/s  %5.1f ns/event\n", s, r.EventsPerSec()/1e6, r.NsPerEvent())
	}
}
