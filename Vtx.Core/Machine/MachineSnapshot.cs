using System.Reflection;
using Vtx.Apic;
using Vtx.Devices;

namespace Vtx;

/// <summary>
/// A saved copy of a whole <see cref="Machine"/>: RAM, each processor's architectural and internal
/// state (registers, caches of segment descriptors, lazy flags, event and interrupt-shadow state,
/// posted events, counters, VMX operation and the active VMCSs), the local APICs, the multiprocessor
/// schedule (round and turn) and the built-in devices. Restoring it makes the
/// machine continue exactly as it would have from the moment it was taken — same instructions,
/// same cycles — which is what deterministic replay and "what if" exploration need.
/// </summary>
/// <remarks>
/// Host-side wiring is not part of a snapshot: hooks, registered MMIO regions and port devices the
/// host added, the cost model and the CPU model stay as they are at restore time. TLB entries are
/// dropped on restore (a cache). Decoded instructions are kept with the snapshot and restored when the
/// machine has the same CPU model and cost model objects (a block timing model's costs depend on where
/// each decoded run began); otherwise they are dropped.
/// </remarks>
public sealed class MachineSnapshot
{
    // RAM in 64-KiB chunks; chunks that are all zero are not stored (a big, mostly untouched guest stays cheap).
    private const int ChunkBytes = 0x1_0000;
    private readonly Dictionary<ulong, byte[]> _ram = new();
    private readonly ulong _ramSize;
    private readonly ObjectState[] _platform;
    private readonly ObjectState _uart, _fwcfg, _pic, _post, _console, _debugExit, _schedule;
    // One entry per processor (issue 12: a multiprocessor machine's snapshot holds every processor).
    private readonly ObjectState[] _cpu, _apic;
    private readonly List<Vmx.Vmcs>[] _activeVmcs;

    internal MachineSnapshot(Machine m)
    {
        _ramSize = m.Memory.Size;
        foreach (var (start, length) in m.Memory.Ranges)
            for (ulong a = start; a < start + length; a += ChunkBytes)
            {
                var view = m.Memory.View(a, (int)Math.Min(ChunkBytes, start + length - a));
                if (view.IndexOfAnyExcept((byte)0) >= 0) _ram[a] = view.ToArray();
            }
        _platform = m.PlatformDevices.Select(ObjectState.Capture).ToArray();
        _cpu = m.Cpus.Select(ObjectState.Capture).ToArray();
        _apic = m.Cpus.Select(c => ObjectState.Capture(c.Apic)).ToArray();
        _schedule = ObjectState.Capture(m.Schedule);
        _uart = ObjectState.Capture(m.Uart);
        _fwcfg = ObjectState.Capture(m.FwCfg);
        _pic = ObjectState.Capture(m.Pic);
        _post = ObjectState.Capture(m.PostCodes);
        _console = ObjectState.Capture(m.DebugConsole);
        _debugExit = ObjectState.Capture(m.DebugExit);
        _activeVmcs = m.Cpus.Select(c => c.CloneActiveVmcs()).ToArray();
        Timing = m.Cpu.TimingName;
        // Issue 10: run boundaries (and so block-simulated costs) depend on the order code was reached:
        // keep the decodings, valid while the processor model and cost model are the same objects.
        _decoded = m.Memory.DecodeCache.Capture();
        _decodedFor = (m.Cpu.Model, m.Cpu.CostModel);
    }

    private readonly object _decoded;
    private readonly (CpuModel Model, Timing.ICostModel Cost) _decodedFor;

    /// <summary>
    /// The timing the cycle counts in the snapshot were produced with (the cost model's name, e.g.
    /// "skylake-client" or "vtx-cost-1"): restoring into a machine with another timing continues with
    /// that machine's timing, so replays compare cycles only under the same name.
    /// </summary>
    public string Timing { get; }

    /// <summary>RAM size the snapshot was taken with.</summary>
    public ulong MemorySize => _ramSize;

    internal void RestoreInto(Machine m)
    {
        if (m.Memory.Size != _ramSize)
            throw new ArgumentException($"snapshot holds {_ramSize} bytes of RAM but the machine has {m.Memory.Size}", nameof(m));
        if (m.Cpus.Count != _cpu.Length)
            throw new ArgumentException($"snapshot holds {_cpu.Length} processors but the machine has {m.Cpus.Count}", nameof(m));
        foreach (var (start, length) in m.Memory.Ranges)
            for (ulong a = start; a < start + length; a += ChunkBytes)
            {
                if (_ram.TryGetValue(a, out var data)) { m.Memory.Write(a, data); continue; }
                int n = (int)Math.Min(ChunkBytes, start + length - a);
                if (m.Memory.View(a, n).IndexOfAnyExcept((byte)0) >= 0) m.Memory.Write(a, new byte[n]);
            }
        var devices = m.PlatformDevices;
        for (int i = 0; i < _platform.Length && i < devices.Count; i++) _platform[i].Restore(devices[i]);
        m.Memory.DecodeCache.Clear();
        if (ReferenceEquals(_decodedFor.Model, m.Cpu.Model) && ReferenceEquals(_decodedFor.Cost, m.Cpu.CostModel))
            foreach (ulong ppn in m.Memory.DecodeCache.Restore(_decoded))
                if (m.Memory.IsRamPage(ppn)) m.Memory.MarkCodePage(ppn); // writes to them invalidate again
        for (int i = 0; i < _cpu.Length; i++)
        {
            _cpu[i].Restore(m.Cpus[i]);
            _apic[i].Restore(m.Cpus[i].Apic);
        }
        _schedule.Restore(m.Schedule);
        _uart.Restore(m.Uart);
        _fwcfg.Restore(m.FwCfg);
        _pic.Restore(m.Pic);
        _post.Restore(m.PostCodes);
        _console.Restore(m.DebugConsole);
        _debugExit.Restore(m.DebugExit);
        for (int i = 0; i < _cpu.Length; i++)
        {
            m.Cpus[i].RestoreActiveVmcs(_activeVmcs[i]);
            m.Cpus[i].AfterRestore();
        }
    }

    /// <summary>
    /// The state fields of one component: values, arrays of values (copied), strings, and nested
    /// value collections; references to other components, hooks and caches are left alone.
    /// </summary>
    private sealed class ObjectState
    {
        private readonly List<(FieldInfo Field, object? Value)> _fields = new();

        public static ObjectState Capture(object o)
        {
            var s = new ObjectState();
            for (Type? t = o.GetType(); t is not null && t != typeof(object); t = t.BaseType)
            {
                foreach (var f in t.GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly))
                {
                    if (!IsState(f.FieldType)) continue;
                    s._fields.Add((f, Copy(f.GetValue(o))));
                }
            }
            return s;
        }

        public void Restore(object o)
        {
            foreach (var (f, v) in _fields)
            {
                object? current = f.GetValue(o);
                if (current is Array dst && v is Array src && dst.Length == src.Length && !f.FieldType.IsValueType)
                    Array.Copy(src, dst, src.Length); // keep the array the object holds (it may be pinned or shared)
                else if (current is MemoryStream ms && v is byte[] bytes)
                {
                    ms.SetLength(0);
                    ms.Write(bytes);
                }
                else f.SetValue(o, Copy(v)); // collections are replaced by a fresh copy
            }
        }

        private static bool IsState(Type t)
        {
            if (t.IsValueType || t == typeof(string)) return !typeof(Delegate).IsAssignableFrom(t);
            if (t.IsArray) return t.GetElementType()!.IsValueType;
            if (t.IsGenericType)
            {
                var g = t.GetGenericTypeDefinition();
                bool collection = g == typeof(List<>) || g == typeof(Queue<>) || g == typeof(SortedList<,>) || g == typeof(Dictionary<,>);
                return collection && t.GetGenericArguments().All(a => a.IsValueType || a == typeof(string));
            }
            return t == typeof(System.Text.StringBuilder) || t == typeof(MemoryStream);
        }

        private static object? Copy(object? v) => v switch
        {
            null => null,
            Array a => a.Clone(),
            System.Text.StringBuilder sb => new System.Text.StringBuilder(sb.ToString()),
            MemoryStream ms => ms.ToArray(),
            string => v,
            _ when v.GetType().IsValueType => v,
            // List<T>, Queue<T>, SortedList<K,V>, Dictionary<K,V>: each has a copying constructor.
            _ => Activator.CreateInstance(v.GetType(), v),
        };
    }
}

public sealed partial class Machine
{
    /// <summary>Takes a snapshot of the whole machine (see <see cref="MachineSnapshot"/>).</summary>
    public MachineSnapshot Snapshot() => new(this);

    /// <summary>Restores a snapshot taken from this machine (or one with the same RAM size and processor count).</summary>
    /// <exception cref="ArgumentException">The RAM sizes or the processor counts differ.</exception>
    public void Restore(MachineSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        snapshot.RestoreInto(this);
    }
}
