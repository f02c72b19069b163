using System.Globalization;
using System.Text;
using Vtx.Vmx;

namespace Vtx.Tracing;

/// <summary>What a <see cref="TimelineMark"/> shows.</summary>
public enum TimelineMarkKind : byte
{
    /// <summary>A stretch of time a processor spent in one lane (root or non-root operation), from a VMX transition to the next.</summary>
    Span,
    /// <summary>A VM exit (SDM Vol. 3C, chapter 27): the moment the processor left non-root operation.</summary>
    VmExit,
    /// <summary>A successful VM entry (SDM Vol. 3C, chapter 26), with the event it injected, if any.</summary>
    VmEntry,
    /// <summary>A VMLAUNCH/VMRESUME that failed (VMfail or a VM-entry failure, exit reason bit 31).</summary>
    VmEntryFailed,
    /// <summary>An event (interrupt, NMI, exception) delivered through the IDT of the lane's software.</summary>
    Event,
}

/// <summary>
/// One mark on a timeline: where (<paramref name="Cpu"/>, <paramref name="Lane"/>), when (cycles),
/// what, and its details as "key: value" text.
/// </summary>
/// <param name="Cpu">The processor's index (0 for a one-CPU machine).</param>
/// <param name="Lane">The VMX level: 0 = root operation (or no VMX), 1 = non-root operation (the guest).</param>
/// <param name="Kind">What the mark shows.</param>
/// <param name="Cycle">The cycle the mark starts at.</param>
/// <param name="Duration">Cycles the mark lasts (spans); 0 for instants.</param>
/// <param name="Name">A short label (e.g. "exit 10 Cpuid").</param>
/// <param name="Details">Details shown on hover, one "key: value" per line.</param>
public readonly record struct TimelineMark(int Cpu, int Lane, TimelineMarkKind Kind, ulong Cycle, ulong Duration, string Name, string Details);

/// <summary>Receives timeline marks as they happen (streamed: a sink keeps what it must, not the whole run).</summary>
public interface ITimelineSink : IDisposable
{
    /// <summary>Records one mark. Marks of one processor arrive in cycle order.</summary>
    void Add(in TimelineMark mark);
}

/// <summary>
/// Turns what a processor does into <see cref="TimelineMark"/>s: VM entries, exits and failed entries
/// (from <see cref="Cpu.VmxTransitionObserved"/>), the spans between them in root and non-root
/// operation, and events delivered through the IDT (<see cref="Cpu.EventDelivered"/>). Attaching
/// chains any observer already set; <see cref="Dispose"/> closes the open span, detaches and disposes
/// the sink. Memory use does not grow with the run: every mark goes to the sink as it happens.
/// </summary>
public sealed class TimelineRecorder : IDisposable
{
    private readonly ITimelineSink _sink;
    private readonly List<(Cpu Cpu, int Index, Action<VmxTransition>? Vmx, Action<byte, EventKind, uint?>? Events, ulong SpanStart, int Lane)> _cpus = [];
    private bool _disposed;

    /// <summary>Records into <paramref name="sink"/>.</summary>
    public TimelineRecorder(ITimelineSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        _sink = sink;
    }

    /// <summary>
    /// A recorder writing to the file at <paramref name="path"/>: the self-contained HTML page when the
    /// name ends in ".html" or ".htm", else trace-event JSON (for Perfetto / chrome://tracing).
    /// </summary>
    /// <exception cref="IOException">The file cannot be created (and the other exceptions of <see cref="File.CreateText"/>).</exception>
    public static TimelineRecorder ToFile(string path, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var writer = File.CreateText(path);
        bool html = path.EndsWith(".html", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".htm", StringComparison.OrdinalIgnoreCase);
        ITimelineSink sink = html ? new HtmlTimelineSink(writer, true, title ?? "Vtx timeline") : new TraceEventJsonSink(writer, true, title);
        return new TimelineRecorder(sink);
    }

    /// <summary>Marks recorded so far (spans and instants).</summary>
    public long Marks { get; private set; }

    /// <summary>Starts recording <paramref name="cpu"/> as processor <paramref name="index"/> (its lane is where it is now).</summary>
    public void Attach(Cpu cpu, int index = 0)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        ObjectDisposedException.ThrowIf(_disposed, this);
        int slot = _cpus.Count;
        Action<VmxTransition>? prevVmx = cpu.VmxTransitionObserved;
        Action<byte, EventKind, uint?>? prevEvents = cpu.EventDelivered;
        _cpus.Add((cpu, index, prevVmx, prevEvents, cpu.Cycles, cpu.InVmxNonRoot ? 1 : 0));
        cpu.VmxTransitionObserved = t => { prevVmx?.Invoke(t); OnTransition(slot, t); };
        cpu.EventDelivered = (v, k, e) => { prevEvents?.Invoke(v, k, e); OnEvent(slot, v, k, e); };
    }

    private void Add(in TimelineMark m)
    {
        _sink.Add(m);
        Marks++;
    }

    private void CloseSpan(int slot, ulong now, int newLane)
    {
        var c = _cpus[slot];
        if (now > c.SpanStart)
            Add(new TimelineMark(c.Index, c.Lane, TimelineMarkKind.Span, c.SpanStart, now - c.SpanStart,
                c.Lane == 0 ? "root" : "non-root", c.Lane == 0 ? "VMX root operation (hypervisor or no VMX)" : "VMX non-root operation (guest)"));
        _cpus[slot] = c with { SpanStart = now, Lane = newLane };
    }

    private void OnTransition(int slot, VmxTransition t)
    {
        var c = _cpus[slot];
        switch (t.Kind)
        {
            case VmxTransitionKind.Entry:
                CloseSpan(slot, t.Cycle, 1);
                Add(new TimelineMark(c.Index, 1, TimelineMarkKind.VmEntry, t.Cycle, 0,
                    t.InterruptionInfo >> 31 != 0 ? $"entry, inject {Injection(t.InterruptionInfo)}" : "entry",
                    Join($"guest RIP: 0x{t.GuestRip:X}", t.InterruptionInfo >> 31 != 0 ? $"injected: 0x{t.InterruptionInfo:X8} ({Injection(t.InterruptionInfo)})" : null)));
                break;
            case VmxTransitionKind.Exit:
                CloseSpan(slot, t.Cycle, 0);
                Add(new TimelineMark(c.Index, 1, TimelineMarkKind.VmExit, t.Cycle, 0,
                    $"exit {(int)t.BasicReason} {t.BasicReason}",
                    Join($"reason: {(int)t.BasicReason} ({t.BasicReason})", $"qualification: 0x{t.Qualification:X}", $"guest RIP: 0x{t.GuestRip:X}",
                        t.InterruptionInfo >> 31 != 0 ? $"interruption info: 0x{t.InterruptionInfo:X8} ({Injection(t.InterruptionInfo)})" : null,
                        t.IdtVectoringInfo >> 31 != 0 ? $"IDT vectoring: 0x{t.IdtVectoringInfo:X8} ({Injection(t.IdtVectoringInfo)})" : null)));
                break;
            default: // a failed VMLAUNCH/VMRESUME, a VM-entry failure, an abort: the processor stays in (or returns to) root
                CloseSpan(slot, t.Cycle, 0);
                Add(new TimelineMark(c.Index, 0, TimelineMarkKind.VmEntryFailed, t.Cycle, 0, $"{t.Kind}",
                    Join($"kind: {t.Kind}", t.ExitReason != 0 ? $"exit reason: 0x{t.ExitReason:X8}" : null,
                        t.InstructionError != 0 ? $"VM-instruction error: {(int)t.InstructionError} ({t.InstructionError})" : null,
                        t.Failure is not null ? $"failed check: {t.Failure}" : null)));
                break;
        }
    }

    private void OnEvent(int slot, byte vector, EventKind kind, uint? error)
    {
        var c = _cpus[slot];
        Add(new TimelineMark(c.Index, c.Cpu.InVmxNonRoot ? 1 : 0, TimelineMarkKind.Event, c.Cpu.Cycles, 0, $"{kind} {vector}",
            Join($"vector: {vector} (0x{vector:X2})", $"kind: {kind}", error is uint e ? $"error code: 0x{e:X}" : null, $"handler RIP: 0x{c.Cpu.Rip:X}")));
    }

    /// <summary>"NMI 2", "ExternalInterrupt 0x30"... from an interruption-information field (SDM Vol. 3C, 25.8.3).</summary>
    private static string Injection(uint info) => $"{(EventKind)((info >> 8) & 7)} vector {info & 0xFF}";

    private static string Join(params string?[] lines) => string.Join("\n", lines.Where(l => l is not null));

    /// <summary>Closes the open spans, restores the observers that were set before <see cref="Attach"/> and disposes the sink.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        for (int i = 0; i < _cpus.Count; i++)
        {
            CloseSpan(i, _cpus[i].Cpu.Cycles, _cpus[i].Lane);
            _cpus[i].Cpu.VmxTransitionObserved = _cpus[i].Vmx;
            _cpus[i].Cpu.EventDelivered = _cpus[i].Events;
        }
        _sink.Dispose();
    }
}

/// <summary>
/// Writes marks in the Chrome/Perfetto trace-event JSON format (the object form with
/// <c>traceEvents</c>), which chrome://tracing, Perfetto (ui.perfetto.dev) and speedscope open:
/// one process per CPU, one thread (lane) per VMX level, spans as complete ("X") events and the
/// rest as instant ("i") events with their details in <c>args</c>. The axis unit is the cycle: the
/// viewer's "µs" reads as cycles (recorded in <c>otherData</c>). Streamed: nothing is kept.
/// </summary>
public sealed class TraceEventJsonSink : ITimelineSink
{
    private readonly TextWriter _w;
    private readonly bool _ownsWriter;
    private readonly HashSet<(int, int)> _named = [];
    private bool _first = true;

    /// <summary>Writes to <paramref name="writer"/> (disposed with the sink when <paramref name="ownsWriter"/>).</summary>
    public TraceEventJsonSink(TextWriter writer, bool ownsWriter = true, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        _w = writer;
        _ownsWriter = ownsWriter;
        _w.Write("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"producer\":\"Vtx\",\"timeUnit\":\"1 us on the axis = 1 cycle\"");
        if (title is not null) _w.Write($",\"title\":{Json(title)}");
        _w.Write("},\"traceEvents\":[\n");
    }

    /// <inheritdoc/>
    public void Add(in TimelineMark m)
    {
        if (_named.Add((m.Cpu, m.Lane)))
        {
            if (_named.Count == 1 || !_named.Contains((m.Cpu, 1 - m.Lane))) Write($"{{\"ph\":\"M\",\"pid\":{m.Cpu},\"name\":\"process_name\",\"args\":{{\"name\":\"CPU {m.Cpu}\"}}}}");
            Write($"{{\"ph\":\"M\",\"pid\":{m.Cpu},\"tid\":{m.Lane},\"name\":\"thread_name\",\"args\":{{\"name\":{Json(m.Lane == 0 ? "root (hypervisor)" : "non-root (guest)")}}}}}");
        }
        var sb = new StringBuilder(160);
        sb.Append("{\"name\":").Append(Json(m.Name)).Append(",\"cat\":\"").Append(m.Kind).Append('"');
        if (m.Kind == TimelineMarkKind.Span) sb.Append(",\"ph\":\"X\",\"dur\":").Append(m.Duration.ToString(CultureInfo.InvariantCulture));
        else sb.Append(",\"ph\":\"i\",\"s\":\"t\"");
        sb.Append(",\"ts\":").Append(m.Cycle.ToString(CultureInfo.InvariantCulture))
          .Append(",\"pid\":").Append(m.Cpu).Append(",\"tid\":").Append(m.Lane).Append(",\"args\":{");
        bool first = true;
        foreach (string line in m.Details.Split('\n'))
        {
            int colon = line.IndexOf(": ", StringComparison.Ordinal);
            if (colon < 0) continue;
            if (!first) sb.Append(',');
            first = false;
            sb.Append(Json(line[..colon])).Append(':').Append(Json(line[(colon + 2)..]));
        }
        sb.Append("}}");
        Write(sb.ToString());
    }

    private void Write(string json)
    {
        if (!_first) _w.Write(",\n");
        _first = false;
        _w.Write(json);
    }

    internal static string Json(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (char ch in s)
        {
            switch (ch)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case < ' ': sb.Append($"\\u{(int)ch:x4}"); break;
                case '<': sb.Append("\\u003c"); break; // safe inside an HTML <script> too
                default: sb.Append(ch); break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>Ends the JSON document (and disposes the writer if owned).</summary>
    public void Dispose()
    {
        _w.Write("\n]}\n");
        _w.Flush();
        if (_ownsWriter) _w.Dispose();
    }
}

/// <summary>
/// Writes marks as one self-contained HTML page (no network, no external script): an SVG with a
/// lane per CPU and VMX level, spans of root and non-root time, VM entries, exits and failed
/// entries, and delivered events, with cycles on the axis; hovering a mark shows its details, the
/// mouse wheel zooms around the pointer and a double click resets. Marks are streamed into the page
/// as they come; past <see cref="MaxDrawn"/> marks the rest are counted, not drawn (the page says
/// how many), so a run with millions of exits gives a page a browser can open.
/// </summary>
public sealed class HtmlTimelineSink : ITimelineSink
{
    private readonly TextWriter _w;
    private readonly bool _ownsWriter;
    private long _drawn, _dropped;
    private bool _first = true;

    /// <summary>The most marks drawn; the default keeps a page responsive in a browser.</summary>
    public int MaxDrawn { get; init; } = 50_000;

    /// <summary>Writes the page to <paramref name="writer"/> (disposed with the sink when <paramref name="ownsWriter"/>).</summary>
    public HtmlTimelineSink(TextWriter writer, bool ownsWriter = true, string title = "Vtx timeline")
    {
        ArgumentNullException.ThrowIfNull(writer);
        _w = writer;
        _ownsWriter = ownsWriter;
        string t = System.Net.WebUtility.HtmlEncode(title);
        _w.Write($$"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>{{t}}</title>
            <style>
            body { font: 13px system-ui, sans-serif; margin: 16px; color: #222; }
            h1 { font-size: 16px; margin: 0 0 4px; } #note { color: #555; margin-bottom: 8px; }
            svg { border: 1px solid #ccc; background: #fff; }
            .lane-label { font-size: 12px; fill: #333; } .axis { font-size: 10px; fill: #555; } .grid { stroke: #eee; }
            .span.root { fill: #cfe3ff; } .span.guest { fill: #d8f5d0; }
            .exit { stroke: #d62728; stroke-width: 2; } .entry { stroke: #2ca02c; stroke-width: 2; }
            .fail { stroke: #000; stroke-width: 3; } .event { fill: #ff7f0e; stroke: #7a3d00; }
            .mark:hover { stroke-width: 4; }
            </style></head>
            <body data-errors="0"><h1>{{t}}</h1><div id="note"></div><div id="chart"></div>
            <script id="marks" type="application/json">[

            """);
    }

    /// <inheritdoc/>
    public void Add(in TimelineMark m)
    {
        if (_drawn >= MaxDrawn) { _dropped++; return; }
        _drawn++;
        if (!_first) _w.Write(",\n");
        _first = false;
        _w.Write($"[{m.Cpu},{m.Lane},{(int)m.Kind},{m.Cycle.ToString(CultureInfo.InvariantCulture)},{m.Duration.ToString(CultureInfo.InvariantCulture)},{TraceEventJsonSink.Json(m.Name)},{TraceEventJsonSink.Json(m.Details)}]");
    }

    /// <summary>Ends the page with its rendering script (and disposes the writer if owned).</summary>
    public void Dispose()
    {
        _w.Write($$"""

            ]</script>
            <script id="meta" type="application/json">{"drawn":{{_drawn}},"dropped":{{_dropped}}}</script>
            <script>
            window.onerror = function () { document.body.dataset.errors = String(Number(document.body.dataset.errors) + 1); };
            (function () {
              const marks = JSON.parse(document.getElementById('marks').textContent);
              const meta = JSON.parse(document.getElementById('meta').textContent);
              const NS = 'http://www.w3.org/2000/svg';
              const laneKeys = [...new Set(marks.map(m => m[0] * 2 + m[1]))].sort((a, b) => a - b);
              if (laneKeys.length === 0) laneKeys.push(0);
              const laneRow = new Map(laneKeys.map((k, i) => [k, i]));
              let lo = Infinity, hi = -Infinity;
              for (const m of marks) { lo = Math.min(lo, m[3]); hi = Math.max(hi, m[3] + m[4]); }
              if (!isFinite(lo)) { lo = 0; hi = 1; }
              const full = [lo, hi === lo ? lo + 1 : hi];
              let view = full.slice();
              const left = 170, laneH = 40, top = 24;
              const width = Math.max(900, document.documentElement.clientWidth - 40);
              const height = top + laneKeys.length * laneH + 10;
              const counts = { exits: 0, entries: 0, events: 0, failed: 0 };
              for (const m of marks) { if (m[2] === 1) counts.exits++; else if (m[2] === 2) counts.entries++; else if (m[2] === 3) counts.failed++; else if (m[2] === 4) counts.events++; }
              document.getElementById('note').textContent =
                `${counts.entries} VM entries, ${counts.exits} VM exits, ${counts.failed} failed entries, ${counts.events} events` +
                (meta.dropped > 0 ? ` (${meta.dropped} later marks not drawn)` : '') + '. Hover a mark for details; wheel to zoom, double-click to reset.';
              function el(name, attrs, parent, text) {
                const e = document.createElementNS(NS, name);
                for (const k in attrs) e.setAttribute(k, attrs[k]);
                if (text !== undefined) e.textContent = text;
                parent.appendChild(e);
                return e;
              }
              const svg = el('svg', { width: width, height: height, id: 'timeline' }, document.getElementById('chart'));
              function x(c) { return left + (c - view[0]) / (view[1] - view[0]) * (width - left - 10); }
              function draw() {
                while (svg.firstChild) svg.removeChild(svg.firstChild);
                laneKeys.forEach((k, i) => {
                  const y = top + i * laneH;
                  el('line', { x1: 0, x2: width, y1: y + laneH, y2: y + laneH, class: 'grid' }, svg);
                  el('text', { x: 6, y: y + laneH / 2 + 4, class: 'lane-label' }, svg, `CPU ${k >> 1} ${k & 1 ? 'non-root (guest)' : 'root (hypervisor)'}`);
                });
                el('text', { x: 6, y: 12, class: 'axis' }, svg, 'cycle');
                for (let t = 0; t <= 10; t++) {
                  const c = view[0] + (view[1] - view[0]) * t / 10, xx = x(c);
                  el('line', { x1: xx, x2: xx, y1: top - 4, y2: height, class: 'grid' }, svg);
                  el('text', { x: xx, y: 12, class: 'axis', 'text-anchor': 'middle' }, svg, Math.round(c).toLocaleString('en-US'));
                }
                for (const m of marks) {
                  const [cpu, lane, kind, cycle, dur, name, details] = m;
                  if (cycle + dur < view[0] || cycle > view[1]) continue;
                  const y = top + laneRow.get(cpu * 2 + lane) * laneH;
                  let e;
                  if (kind === 0) {
                    const x1 = Math.max(left, x(cycle)), x2 = Math.min(width - 10, x(cycle + dur));
                    e = el('rect', { x: x1, y: y + 8, width: Math.max(1, x2 - x1), height: laneH - 16, class: 'span ' + (lane ? 'guest' : 'root') }, svg);
                  } else if (kind === 4) {
                    e = el('circle', { cx: x(cycle), cy: y + laneH / 2, r: 5, class: 'mark event' }, svg);
                  } else {
                    const cls = kind === 1 ? 'exit' : kind === 2 ? 'entry' : 'fail';
                    e = el('line', { x1: x(cycle), x2: x(cycle), y1: y + 3, y2: y + laneH - 3, class: 'mark ' + cls }, svg);
                  }
                  el('title', {}, e, `${name} at cycle ${cycle.toLocaleString('en-US')}${dur ? ` for ${dur.toLocaleString('en-US')} cycles` : ''}\n${details}`);
                }
              }
              svg.addEventListener('wheel', ev => {
                ev.preventDefault();
                const r = svg.getBoundingClientRect();
                const c = view[0] + (ev.clientX - r.left - left) / (width - left - 10) * (view[1] - view[0]);
                const f = ev.deltaY < 0 ? 0.8 : 1.25;
                view = [c - (c - view[0]) * f, c + (view[1] - c) * f];
                if (view[1] - view[0] < 2) view = [c - 1, c + 1];
                draw();
              }, { passive: false });
              svg.addEventListener('dblclick', () => { view = full.slice(); draw(); });
              draw();
              document.body.dataset.rendered = String(marks.length);
            })();
            </script></body></html>

            """);
        _w.Flush();
        if (_ownsWriter) _w.Dispose();
    }
}
