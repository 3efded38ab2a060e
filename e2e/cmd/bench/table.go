package main

import (
	"fmt"
	"io"
	"time"
)

// printTable prints the results as one markdown table, ready for the README.
func printTable(w io.Writer, o options, d, p results) {
	ms := func(x time.Duration) string { return fmt.Sprintf("%.3f ms", float64(x)/float64(time.Millisecond)) }
	mb := func(kib int64) string { return fmt.Sprintf("%.1f MB", float64(kib)*1024/1e6) }
	ratio := func(a, b float64) float64 { return a / b }
	verdict := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	rows := [][]string{}
	add := func(cells ...string) { rows = append(rows, cells) }

	r := ratio(float64(p.p50), float64(d.p50))
	add(fmt.Sprintf("echo latency p50 (%d sequential calls)", o.seqCalls), ms(d.p50), ms(p.p50), fmt.Sprintf("%.2fx", r), "<= 1.3x", verdict(r <= 1.3))
	r = ratio(float64(p.p99), float64(d.p99))
	add("echo latency p99", ms(d.p99), ms(p.p99), fmt.Sprintf("%.2fx", r), "<= 1.3x", verdict(r <= 1.3))
	r = ratio(float64(p.remote), float64(d.remote))
	add(fmt.Sprintf("echo latency p50 with %v of server time (%d calls)", remoteDelay, o.seqCalls/10), ms(d.remote), ms(p.remote), fmt.Sprintf("%.2fx", r), "(for information)", "")
	r = ratio(p.throughput, d.throughput)
	add(fmt.Sprintf("throughput (%d in flight, %d calls)", o.concurrency, o.tputCalls),
		fmt.Sprintf("%.0f calls/s", d.throughput), fmt.Sprintf("%.0f calls/s", p.throughput), fmt.Sprintf("%.2fx", r), ">= 1.0x", verdict(r >= 1.0))
	r = ratio(float64(p.large), float64(d.large))
	add(fmt.Sprintf("%d MiB echo round trip", o.largeBytes>>20), ms(d.large), ms(p.large), fmt.Sprintf("%.2fx", r), "<= 1.5x", verdict(r <= 1.5))
	extra := p.cold - d.cold
	add("cold start (spawn to initialize result, incl. first token)", ms(d.cold), ms(p.cold), fmt.Sprintf("+%.1f ms", float64(extra)/float64(time.Millisecond)), "<= direct + 60 ms", verdict(extra <= 60*time.Millisecond))
	add("proxy peak RSS (VmHWM)", "-", mb(p.peakRSS), "-", "<= 40 MB", verdict(p.peakRSS*1024 <= 40e6))
	add("proxy idle RSS (after initialize and warm-up)", "-", mb(p.idleRSS), "-", "<= 15 MB", verdict(p.idleRSS*1024 <= 15e6))
	add("proxy RSS 2 s after the load", "-", mb(p.afterRSS), "-", "(for information)", "")
	add("stdio round trip the proxy answers itself (parse error), p50", "-", ms(p.hop), "-", "(for information: the hop's floor)", "")
	add("proxy CPU time per sequential echo call", "-", ms(p.cpuPerCall), "-", "<= 0.12 ms", verdict(p.cpuPerCall <= 120*time.Microsecond))
	add("proxy thread switches per sequential echo call", "-", fmt.Sprintf("%.2f", p.switchesPerCall), "-", "(for information: 2 is the floor, one wait for stdin and one for the server)", "")
	if p.statelessP50 > 0 {
		r = ratio(float64(p.statelessP50), float64(d.statelessP50))
		add(fmt.Sprintf("echo latency p50, stateless 2026-07-28 server (%d sequential calls)", o.seqCalls/2), ms(d.statelessP50), ms(p.statelessP50), fmt.Sprintf("%.2fx", r), "(for information)", "")
	}
	if p.floorP50 > 0 {
		r = ratio(float64(p.floorP50), float64(d.floorP50))
		add(fmt.Sprintf("echo latency p50 through a minimal relay (%d sequential calls; proxy column: that relay)", o.seqCalls), ms(d.floorP50), ms(p.floorP50), fmt.Sprintf("%.2fx", r), "(for information: the floor of any relay process)", "")
		add("minimal relay's CPU time per sequential echo call (proxy column: that relay)", "-", ms(p.floorCPU), "-", "(for information: the floor of any relay process)", "")
	}
	if p.apart != nil && d.apart != nil {
		r = ratio(float64(p.apart.p50), float64(d.apart.p50))
		add(fmt.Sprintf("echo latency p50, server in its own process (%d sequential calls)", o.seqCalls), ms(d.apart.p50), ms(p.apart.p50), fmt.Sprintf("%.2fx", r), "(for information)", "")
		r = ratio(p.apart.throughput, d.apart.throughput)
		add(fmt.Sprintf("throughput, server in its own process (%d in flight, %d calls)", o.concurrency, o.tputCalls),
			fmt.Sprintf("%.0f calls/s", d.apart.throughput), fmt.Sprintf("%.0f calls/s", p.apart.throughput), fmt.Sprintf("%.2fx", r), "(for information)", "")
		add("proxy CPU time per sequential echo call, server in its own process", "-", ms(p.apart.cpuPerCall), "-", "(for information)", "")
	}

	fmt.Fprintln(w, "| measure | direct | proxy | proxy/direct | target | met |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | --- | --- |")
	for _, row := range rows {
		fmt.Fprint(w, "|")
		for _, c := range row {
			fmt.Fprintf(w, " %s |", c)
		}
		fmt.Fprintln(w)
	}
}
