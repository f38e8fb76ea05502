package bench

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields:
	// utime 250 and stime 50 ticks are 3 s at USER_HZ 100.
	stat := "4242 (relay (bench) x) S 1 4242 4242 0 -1 4194304 1234 0 0 0 250 50 0 0 20 0 9 0 123 456 789\n"
	got, err := parseStatCPU([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if got != 3*time.Second {
		t.Errorf("parseStatCPU = %s, want 3s", got)
	}
	for _, bad := range []string{"", "4242 relay S 1", "4242 (relay) S 1 2 3", "4242 (relay) S 1 4242 4242 0 -1 4194304 1234 0 0 0 x 50 0"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q) succeeded", bad)
		}
	}
}

func TestCPUTimeOfRunningAndExitedProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	// A shell loop long enough to use several clock ticks of CPU.
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
	if err := cmd.Start(); err != nil {
		t.Skip("no sh:", err)
	}
	p := &Process{cmd: cmd, stderr: &tailBuffer{}}
	m := meterCPU(p)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	exited := p.CPUTime()
	if exited <= 0 {
		t.Fatalf("CPUTime after exit = %s, want > 0", exited)
	}
	if used := m.Used(); used <= 0 || used > exited {
		t.Errorf("meter used %s, want in (0, %s]", used, exited)
	}
}

func TestProcCPUOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	before := procCPU(os.Getpid())
	// Burn CPU until /proc shows it, a tick at a time; bounded so a broken
	// reading fails instead of hanging.
	x := 0
	for i := 0; i < 2000 && procCPU(os.Getpid()) <= before; i++ {
		for j := range 1_000_000 {
			x += j
		}
	}
	if after := procCPU(os.Getpid()); after <= before {
		t.Fatalf("CPU time did not grow: before %s, after %s (%d)", before, after, x)
	}
}

func TestCPULine(t *testing.T) {
	got := cpuLine(2*time.Second, 10000, "accepted", 40*time.Microsecond)
	want := "CPU per event 200.0µs (2s ÷ 10000 accepted); reference 40.0µs per request; ratio 5.00×"
	if got != want {
		t.Errorf("cpuLine = %q, want %q", got, want)
	}
	if got := cpuLine(time.Second, 0, "accepted", 0); !strings.HasPrefix(got, "CPU per event 0.0µs") || strings.Contains(got, "reference") {
		t.Errorf("cpuLine with no events and no reference = %q", got)
	}
}
