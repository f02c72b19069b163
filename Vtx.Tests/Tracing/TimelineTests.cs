using System.Text.Json;
using System.Text.RegularExpressions;
using Vtx.Samples;
using Vtx.Tests.Support;
using Vtx.Tracing;
using Vtx.Vmx;
using Xunit;
using Xunit.Abstractions;

namespace Vtx.Tests.Tracing;

/// <summary>
/// The timeline writers: the trace-event JSON holds one mark per VM entry, exit and delivered event
/// the processor reported (counted here by an observer of the test's own), spans that tile the run,
/// bounded memory for long runs, and an HTML page that a real browser (Debian's chromium, headless)
/// renders without script errors with one exit mark per VM exit.
/// </summary>
public class TimelineTests
{
    private readonly ITestOutputHelper _out;

    public TimelineTests(ITestOutputHelper output) => _out = output;

    /// <summary>Runs the virtual-NMI sample with a recorder into <paramref name="sink"/>; returns what an independent observer saw.</summary>
    private static (List<VmxTransition> Transitions, int Events, ulong Cycles) RunSample(Func<ITimelineSink> sink)
    {
        var transitions = new List<VmxTransition>();
        int events = 0;
        TimelineRecorder? recorder = null;
        Machine? machine = null;
        Sample.MachineCreated = m =>
        {
            machine = m;
            recorder = new TimelineRecorder(sink());
            recorder.Attach(m.Cpu);
            m.Cpu.VmxTransitionObserved += transitions.Add;
            m.Cpu.EventDelivered += (_, _, _) => events++;
        };
        try { new VirtualNmiSample().Run(TextWriter.Null); }
        finally { Sample.MachineCreated = null; }
        ulong cycles = machine!.Cpu.Cycles;
        recorder!.Dispose();
        return (transitions, events, cycles);
    }

    [Fact]
    public void TraceEventJsonHasAMarkPerTransitionAndSpansThatTileTheRun()
    {
        var text = new StringWriter();
        var (transitions, events, cycles) = RunSample(() => new TraceEventJsonSink(text, ownsWriter: false, "virtual-nmi"));
        using var doc = JsonDocument.Parse(text.ToString());
        var evs = doc.RootElement.GetProperty("traceEvents").EnumerateArray().ToList();
        int Count(string cat) => evs.Count(e => e.TryGetProperty("cat", out var c) && c.GetString() == cat);
        Assert.True(transitions.Count >= 8, $"the sample made {transitions.Count} transitions");
        Assert.Equal(transitions.Count(t => t.Kind == VmxTransitionKind.Exit), Count("VmExit"));
        Assert.Equal(transitions.Count(t => t.Kind == VmxTransitionKind.Entry), Count("VmEntry"));
        Assert.Equal(events, Count("Event"));
        // Every exit carries its reason and guest RIP as the processor reported them, in order.
        var exits = evs.Where(e => e.TryGetProperty("cat", out var c) && c.GetString() == "VmExit").ToList();
        var expected = transitions.Where(t => t.Kind == VmxTransitionKind.Exit).ToList();
        for (int i = 0; i < exits.Count; i++)
        {
            Assert.Equal((ulong)expected[i].Cycle, exits[i].GetProperty("ts").GetUInt64());
            Assert.StartsWith($"{expected[i].ExitReason & 0xFFFF} ", exits[i].GetProperty("args").GetProperty("reason").GetString());
            Assert.Equal($"0x{expected[i].GuestRip:X}", exits[i].GetProperty("args").GetProperty("guest RIP").GetString());
        }
        // Spans: contiguous, alternating lanes, covering cycle 0 to the end of the run.
        var spans = evs.Where(e => e.GetProperty("ph").GetString() == "X").Select(e => (Ts: e.GetProperty("ts").GetUInt64(), Dur: e.GetProperty("dur").GetUInt64(), Tid: e.GetProperty("tid").GetInt32())).ToList();
        ulong at = 0;
        foreach (var s in spans) { Assert.Equal(at, s.Ts); at += s.Dur; }
        Assert.Equal(cycles, at);
        Assert.Equal(transitions.Count(t => t.Kind == VmxTransitionKind.Entry), spans.Count(s => s.Tid == 1));
    }

    /// <summary>
    /// The nested sample (both of its machines) records every VM exit in its timeline: the sample's own
    /// trace observers chain after a recorder attached when the machine is created instead of replacing it.
    /// </summary>
    [Fact]
    public void TheNestedSampleRecordsEveryExit()
    {
        var writers = new List<StringWriter>();
        var recorders = new List<TimelineRecorder>();
        var exits = new List<int[]>();
        Sample.MachineCreated = m =>
        {
            var w = new StringWriter();
            writers.Add(w);
            var r = new TimelineRecorder(new TraceEventJsonSink(w, ownsWriter: false, "nested"));
            r.Attach(m.Cpu);
            recorders.Add(r);
            var n = new int[1];
            exits.Add(n);
            m.Cpu.VmxTransitionObserved += t => { if (t.Kind == VmxTransitionKind.Exit) n[0]++; };
        };
        try { new NestedSample().Run(TextWriter.Null); }
        finally { Sample.MachineCreated = null; }
        foreach (var r in recorders) r.Dispose();
        Assert.NotEmpty(writers);
        for (int i = 0; i < writers.Count; i++)
        {
            using var doc = JsonDocument.Parse(writers[i].ToString());
            int marks = doc.RootElement.GetProperty("traceEvents").EnumerateArray()
                .Count(e => e.TryGetProperty("cat", out var c) && c.GetString() == "VmExit");
            Assert.True(exits[i][0] > 10, $"machine {i}: an observer attached at creation saw {exits[i][0]} exits");
            Assert.Equal(exits[i][0], marks);
        }
    }

    [Fact]
    public void TheHtmlPageRendersInARealBrowser()
    {
        HostTools.Ensure("chromium", "chromium");
        string path = Path.Combine(Path.GetTempPath(), $"vtx-timeline-{Guid.NewGuid():N}.html");
        var (transitions, events, _) = RunSample(() => new HtmlTimelineSink(File.CreateText(path), true, "virtual-nmi"));
        try
        {
            var (code, dom, err) = HostTools.Sh("chromium", $"--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --virtual-time-budget=5000 --dump-dom \"{path}\"", timeoutMs: 120_000);
            _out.WriteLine(err);
            Assert.True(code == 0, $"chromium exited {code}: {err}");
            Assert.Matches("<body[^>]*data-errors=\"0\"", dom);
            Assert.Matches("<body[^>]*data-rendered=\"\\d+\"", dom);
            Assert.Equal(transitions.Count(t => t.Kind == VmxTransitionKind.Exit), Regex.Matches(dom, "class=\"mark exit\"").Count);
            Assert.Equal(transitions.Count(t => t.Kind == VmxTransitionKind.Entry), Regex.Matches(dom, "class=\"mark entry\"").Count);
            Assert.Equal(events, Regex.Matches(dom, "class=\"mark event\"").Count);
            Assert.Contains("NmiWindow", dom, StringComparison.Ordinal); // hover text of the NMI-window exit
        }
        finally { File.Delete(path); }
    }
}

/// <summary>Tests that measure the process-wide heap: they run alone, not beside other test classes.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HeapMeasuringCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Heap-measuring tests";
}

/// <summary>The timeline sinks hold bounded memory however many marks pass through them.</summary>
[Collection(HeapMeasuringCollection.Name)]
public class TimelineMemoryTests
{
    [Fact]
    public void SinksStreamAndTheHtmlPageCapsWhatItDraws()
    {
        // 300,000 marks through both sinks into nothing: what they hold does not grow with the marks. A sink
        // that kept them would hold well over 30 MB (100+ bytes each). The heap size is process-wide, so this
        // class runs in a collection of its own with parallelization off: no other test allocates meanwhile.
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var json = new TraceEventJsonSink(TextWriter.Null);
        var html = new HtmlTimelineSink(TextWriter.Null) { MaxDrawn = 1000 };
        for (int i = 0; i < 300_000; i++)
        {
            var m = new TimelineMark(0, i & 1, (TimelineMarkKind)(1 + (i & 1)), (ulong)i * 1000, 0, "exit 10 Cpuid", "reason: 10 (Cpuid)\nguest RIP: 0x1234");
            json.Add(m);
            html.Add(m);
        }
        long during = GC.GetTotalMemory(forceFullCollection: true);
        json.Dispose();
        html.Dispose();
        Assert.True(during - before < 16_000_000, $"held {during - before} bytes after 300,000 marks");
        var page = new StringWriter();
        using (var capped = new HtmlTimelineSink(page, ownsWriter: false) { MaxDrawn = 3 })
            for (int i = 0; i < 5; i++) capped.Add(new TimelineMark(0, 1, TimelineMarkKind.VmExit, (ulong)i, 0, "exit", "x: </script><b>"));
        Assert.Contains("\"drawn\":3,\"dropped\":2", page.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("</script><b>", page.ToString(), StringComparison.Ordinal); // details cannot end the data block
    }
}
