package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat. Linux reports them
// in USER_HZ, which is 100 on every architecture Go supports; reading it with
// sysconf(_SC_CLK_TCK) would need cgo, and the default build is CGO_ENABLED=0.
const userHZ = 100

// CPUTime returns the user+system CPU time the process has used so far (all
// its threads). A running process is read from /proc/<pid>/stat; one that
// has been waited for reports its rusage. It returns 0 when neither is
// available (not Linux, or the process vanished before it was waited for).
//
// CPU time is the figure that survives a noisy shared machine: throughput
// drifts with what else runs, but the work done per event barely does.
func (p *Process) CPUTime() time.Duration {
	if st := p.cmd.ProcessState; st != nil {
		return st.UserTime() + st.SystemTime()
	}
	return procCPU(p.cmd.Process.Pid)
}

func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	d, _ := parseStatCPU(b)
	return d
}

// parseStatCPU returns utime+stime from the contents of /proc/<pid>/stat.
// The command name (field 2) is in parentheses and may itself hold spaces
// and parentheses, so the fields are counted from the last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat: no command name")
	}
	// After the name: state (field 3) … utime (field 14), stime (field 15).
	f := bytes.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the command name", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// cpuMeter measures the CPU time a set of processes use between its start
// and a reading.
type cpuMeter struct {
	procs []*Process
	start []time.Duration
}

// meterCPU starts measuring the CPU time of procs from now.
func meterCPU(procs ...*Process) *cpuMeter {
	m := &cpuMeter{procs: procs, start: make([]time.Duration, len(procs))}
	for i, p := range procs {
		m.start[i] = p.CPUTime()
	}
	return m
}

// Used returns the CPU time the processes used since meterCPU.
func (m *cpuMeter) Used() time.Duration {
	var d time.Duration
	for i, p := range m.procs {
		d += p.CPUTime() - m.start[i]
	}
	return d
}

// perEvent is cpu ÷ n (0 when n is 0).
func perEvent(cpu time.Duration, n int64) time.Duration {
	if n <= 0 {
		return 0
	}
	return cpu / time.Duration(n)
}

// cpuLine formats CPU per event next to the reference's CPU per request and
// their ratio, e.g. "CPU per event 210µs (2.1s ÷ 10000 accepted);
// reference 40µs per request; ratio 5.25×". ref 0 (not measured) leaves the
// reference out.
func cpuLine(cpu time.Duration, n int64, what string, ref time.Duration) string {
	per := perEvent(cpu, n)
	s := fmt.Sprintf("CPU per event %s (%s ÷ %d %s)", us(per), cpu.Round(10*time.Millisecond), n, what)
	if ref > 0 {
		s += fmt.Sprintf("; reference %s per request; ratio %.2f×", us(ref), float64(per)/float64(ref))
	}
	return s
}

// us formats d in microseconds with one decimal: per-event CPU is tens to
// hundreds of µs, where Duration's own formatting would vary its unit.
func us(d time.Duration) string { return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond)) }
