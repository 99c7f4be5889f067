package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// writePlot draws the run's charts, two to a row, into one SVG or PNG
// file: throughput bars per producer count, then a latency distribution
// per latency case.
func writePlot(file string, r *Report) error {
	var plots []*plot.Plot
	if p, err := throughputPlot(r); err != nil {
		return err
	} else if p != nil {
		plots = append(plots, p)
	}
	for _, n := range bytesProducers {
		if p, err := bytesPlot(r, n); err != nil {
			return err
		} else if p != nil {
			plots = append(plots, p)
		}
	}
	for _, sc := range []string{scLatency, scCall, scWake, scFresh, scBytesLat} {
		for _, k := range r.cases(sc) {
			p, err := latencyPlot(r, sc, k)
			if err != nil {
				return err
			}
			plots = append(plots, p)
		}
	}
	if len(plots) == 0 {
		return fmt.Errorf("nothing to plot")
	}
	const cols = 2
	rows := (len(plots) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
	}
	for i, p := range plots {
		grid[i/cols][i%cols] = p
	}
	w, h := 12*vg.Inch, vg.Length(rows)*4*vg.Inch
	var (
		canvas vg.CanvasWriterTo
		dc     draw.Canvas
	)
	if strings.ToLower(filepath.Ext(file)) == ".png" {
		c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(96))
		canvas, dc = vgimg.PngCanvas{Canvas: c}, draw.New(c)
	} else {
		c := vgsvg.New(w, h)
		canvas, dc = c, draw.New(c)
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(grid, tiles, dc)
	for i, p := range plots {
		p.Draw(canvases[i/cols][i%cols])
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := canvas.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// palette gives each strategy the same colour in every chart; plotutil's
// seven would repeat within one.
var palette = map[string]color.RGBA{
	"noop":           {0x55, 0x55, 0x55, 0xff},
	"c-ring":         {0x55, 0x55, 0x55, 0xff},
	"foreign":        {0xd6, 0x27, 0x28, 0xff},
	"foreign-go":     {0xff, 0x98, 0x96, 0xff},
	"foreign_call":   {0xd6, 0x27, 0x28, 0xff},
	"export":         {0x1f, 0x77, 0xb4, 0xff},
	"export+chan":    {0x17, 0xbe, 0xcf, 0xff},
	"eventfd":        {0x2c, 0xa0, 0x2c, 0xff},
	"pipe":           {0x94, 0x67, 0xbd, 0xff},
	"async":          {0xbc, 0xbd, 0x22, 0xff},
	"mutex+cond":     {0xff, 0x7f, 0x0e, 0xff},
	"cond-handshake": {0xff, 0x7f, 0x0e, 0xff},
	"memcpy":         {0x55, 0x55, 0x55, 0xff},
	"foreign_post":   {0xd6, 0x27, 0x28, 0xff},
	"foreign_postv":  {0xff, 0x98, 0x96, 0xff},
	"export+GoBytes": {0x1f, 0x77, 0xb4, 0xff},
	"export+pool":    {0x17, 0xbe, 0xcf, 0xff},
	"seqpacket":      {0x8c, 0x56, 0x4b, 0xff},
}

func colorOf(s string) color.Color {
	if c, ok := palette[s]; ok {
		return c
	}
	return color.Black
}

// throughputPlot is grouped bars: one group per producer count, one bar per
// strategy, in M events/s.
func throughputPlot(r *Report) (*plot.Plot, error) {
	cases := r.cases(scThroughput)
	if len(cases) == 0 {
		return nil, nil
	}
	var strategies []string
	for _, c := range r.Cells {
		// The coalescing wake-up drops nearly every event, so its rate
		// is not comparable; the table has it.
		if c.Scenario == scThroughput && c.Strategy != "async" && !contains(strategies, c.Strategy) {
			strategies = append(strategies, c.Strategy)
		}
	}
	p := plot.New()
	p.Title.Text = "Throughput, C producer threads → consumer (higher is better; async omitted: it drops events)"
	p.Y.Label.Text = "M events/s"
	p.Legend.Top = true
	p.Legend.Left = false
	width := vg.Points(60 / float64(len(strategies)+1))
	for i, s := range strategies {
		vals := make(plotter.Values, len(cases))
		for j, k := range cases {
			if c := r.find(scThroughput, k, s); c != nil {
				vals[j] = c.Median / 1e6
			}
		}
		b, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, err
		}
		b.LineStyle.Width = 0
		b.Color = colorOf(s)
		b.Offset = width * vg.Length(float64(i)-float64(len(strategies)-1)/2)
		p.Add(b)
		p.Legend.Add(s, b)
	}
	names := make([]string, len(cases))
	for i, k := range cases {
		names[i] = strings.ReplaceAll(k, "=", " ")
	}
	p.NominalX(names...)
	return p, nil
}

// latencyPlot draws each strategy's pooled samples as latency against
// percentile, on log-log axes where the tail gets as much room as the
// median.
func latencyPlot(r *Report, sc, k string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = plotTitle(sc, k)
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "ns"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.Left = true
	var ticks []plot.Tick
	for i, lab := range []string{"p0", "p90", "p99", "p99.9", "p99.99", "p99.999"} {
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: lab})
	}
	ticks = append(ticks, plot.Tick{Value: math.Log10(2), Label: "p50"})
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	for _, c := range r.cellsOf(sc, k) {
		if len(c.samples) == 0 {
			continue
		}
		l, err := plotter.NewLine(nines(c.samples))
		if err != nil {
			return nil, err
		}
		l.Color = colorOf(c.Strategy)
		l.Width = vg.Points(1.5)
		if strings.HasPrefix(c.Strategy, "foreign") {
			l.Width = vg.Points(3) // this library's lines stand out
		}
		p.Add(l)
		p.Legend.Add(c.Strategy, l)
	}
	return p, nil
}

// bytesPlot is MB/s against message size, one line per strategy, on a
// log scale, for one producer count (memcpy, measured with one thread, on
// both).
func bytesPlot(r *Report, producers int) (*plot.Plot, error) {
	var sizes []int
	for _, c := range r.Cells {
		if c.Scenario == scBytes && !contains(sizes, c.Size) {
			sizes = append(sizes, c.Size)
		}
	}
	if len(sizes) == 0 {
		return nil, nil
	}
	p := plot.New()
	threads := "1 C producer thread"
	if producers != 1 {
		threads = fmt.Sprintf("%d C producer threads", producers)
	}
	p.Title.Text = "Byte strings, " + threads + " → Go, by message size (memcpy: 1 thread; higher is better)"
	p.Y.Label.Text = "MB/s"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.Left = true
	names := make([]string, len(sizes))
	for i, z := range sizes {
		names[i] = sizeName(z)
	}
	p.NominalX(names...)
	var strategies []string
	for _, c := range r.Cells {
		if c.Scenario == scBytes && !contains(strategies, c.Strategy) {
			strategies = append(strategies, c.Strategy)
		}
	}
	for _, s := range strategies {
		var xys plotter.XYs
		for i, z := range sizes {
			c := r.find(scBytes, bytesCase(z, producers), s)
			if s == "memcpy" {
				c = r.memcpyOf(z)
			}
			if c != nil && c.MedianMB > 0 {
				xys = append(xys, plotter.XY{X: float64(i), Y: c.MedianMB})
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		l.Color, pts.Color = colorOf(s), colorOf(s)
		l.Width = vg.Points(1.5)
		if strings.HasPrefix(s, "foreign") {
			l.Width = vg.Points(3)
		}
		if s == "memcpy" {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l, pts)
		p.Legend.Add(s, l)
	}
	return p, nil
}

func plotTitle(sc, k string) string {
	switch sc {
	case scLatency:
		return "Post latency seen by the C thread, " + k
	case scCall:
		return "Call round trip, consumer " + k
	case scWake:
		return "Wake-up latency, post → handler, " + k
	case scFresh:
		return "Fresh thread per event: create + call + join"
	case scBytesLat:
		return "Byte post latency seen by the C thread, " + k
	}
	return sc + " " + k
}

// nines maps sorted samples to points (x, ns) where x = -log10(1-q) for
// quantile q: 1 is p90, 2 is p99, ... and the last point is the maximum.
func nines(s []float64) plotter.XYs {
	n := float64(len(s))
	top := math.Log10(n)
	var xys plotter.XYs
	const steps = 200
	for i := 0; i <= steps; i++ {
		x := top * float64(i) / steps
		q := 1 - math.Pow(10, -x)
		idx := min(max(int(math.Ceil(q*n))-1, 0), len(s)-1)
		xys = append(xys, plotter.XY{X: x, Y: max(s[idx], 1)})
	}
	return xys
}
