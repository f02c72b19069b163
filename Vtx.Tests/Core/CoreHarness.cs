using System.Security.Cryptography;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Vtx.Tests.Support;
using Xunit;

namespace Vtx.Tests.Core;

/// <summary>Helpers shared by the Core and Decoding tests: assembling with labels, stepping, state fingerprints, generators.</summary>
internal static class CoreHarness
{
    /// <summary>Assembles <paramref name="body"/> at <paramref name="at"/>; the label map gives each label's address.</summary>
    public static (byte[] Code, Func<Label, ulong> AddressOf) AssembleWithLabels(Action<Assembler> body, ulong at = Guest.CodeBase, int bitness = 64)
    {
        var a = new Assembler(bitness);
        body(a);
        var w = new ByteWriter();
        var result = a.Assemble(w, at, BlockEncoderOptions.ReturnNewInstructionOffsets);
        return (w.ToArray(), l => result.GetLabelRIP(l));
    }

    /// <summary>A fresh machine with <paramref name="code"/> at <see cref="Guest.CodeBase"/> (or <paramref name="at"/>) and a stack.</summary>
    public static Machine Load(byte[] code, int bitness = 64, ulong at = Guest.CodeBase, CpuModel? model = null, int memoryMiB = 1, ulong? stack = null)
    {
        var m = new Machine(new MachineOptions { MemoryMiB = memoryMiB, CodeSize = bitness, CpuModel = model });
        m.WriteMemory(at, code);
        m.Cpu.Rip = at;
        m.Cpu[Gpr.Rsp] = stack ?? (bitness == 16 ? 0x8000UL : Guest.StackTop);
        return m;
    }

    /// <summary>Assembles <paramref name="body"/> (no HLT appended) and loads it.</summary>
    public static Machine Load(Action<Assembler> body, int bitness = 64, CpuModel? model = null, Action<Cpu>? setup = null)
    {
        var m = Load(Guest.Assemble(body, Guest.CodeBase, bitness), bitness, model: model);
        setup?.Invoke(m.Cpu);
        return m;
    }

    /// <summary>Runs <paramref name="body"/> followed by HLT and asserts it halts.</summary>
    public static Machine RunToHalt(Action<Assembler> body, int bitness = 64, CpuModel? model = null, Action<Cpu>? setup = null)
    {
        var m = Load(a => { body(a); a.hlt(); }, bitness, model, setup);
        var r = m.Run(RunLimits.Instructions(1_000_000));
        Assert.True(r.Reason == StopReason.Halted, "guest did not halt: " + r);
        return m;
    }

    /// <summary>
    /// Starts <paramref name="run"/> on a background thread; <see cref="BackgroundRun.Wait"/> fails
    /// the test instead of hanging the suite when no limit ends the run.
    /// </summary>
    public static BackgroundRun StartRun(Func<RunResult> run) => new(run);

    /// <summary>Runs <paramref name="run"/> on a background thread and returns its result, failing after 20 s.</summary>
    public static RunResult Bounded(Func<RunResult> run) => StartRun(run).Wait();

    /// <summary>A run executing on its own (background) thread.</summary>
    public sealed class BackgroundRun
    {
        private readonly Thread _thread;
        private RunResult _result;

        public BackgroundRun(Func<RunResult> run)
        {
            _thread = new Thread(() => _result = run()) { IsBackground = true };
            _thread.Start();
        }

        public RunResult Wait(int seconds = 20)
        {
            Assert.True(_thread.Join(TimeSpan.FromSeconds(seconds)), "Run did not return: no limit ended it");
            return _result;
        }
    }

    /// <summary>Runs exactly one instruction (or stops earlier on a fault).</summary>
    public static RunResult Step(Machine m) => m.Run(RunLimits.Instructions(1));

    /// <summary>All sixteen general-purpose registers.</summary>
    public static ulong[] Gprs(Cpu c)
    {
        var r = new ulong[16];
        for (int i = 0; i < 16; i++) r[i] = c[(Gpr)i];
        return r;
    }

    /// <summary>SHA-256 of the whole of RAM.</summary>
    public static string MemoryHash(Machine m) =>
        Convert.ToHexString(SHA256.HashData(m.Memory.View(0, (int)m.Memory.Size)));

    /// <summary>A readable fingerprint of the architectural state and the counters: equal fingerprints, equal machines.</summary>
    public static string Fingerprint(Machine m) => RegisterState(m) + " mem=" + MemoryHash(m);

    /// <summary>Registers, RIP, RFLAGS, counters and the halted state as text.</summary>
    public static string RegisterState(Machine m)
    {
        var c = m.Cpu;
        var sb = new StringBuilder();
        for (int i = 0; i < 16; i++) sb.Append((Gpr)i).Append('=').Append(c[(Gpr)i].ToString("X16")).Append(' ');
        sb.Append("rip=").Append(c.Rip.ToString("X")).Append(" rflags=").Append(c.Rflags.ToString("X"));
        sb.Append(" retired=").Append(c.InstructionsRetired).Append(" cycles=").Append(c.Cycles);
        sb.Append(" halted=").Append(c.IsHalted);
        return sb.ToString();
    }

    /// <summary>Registers and a copy of RAM, to check later that nothing changed (cheaper than hashing).</summary>
    public sealed class Snapshot
    {
        private readonly string _registers;
        private readonly byte[] _ram;

        public Snapshot(Machine m)
        {
            _registers = RegisterState(m);
            _ram = m.Memory.View(0, (int)m.Memory.Size).ToArray();
        }

        public void AssertUnchanged(Machine m)
        {
            Assert.Equal(_registers, RegisterState(m));
            var now = m.Memory.View(0, (int)m.Memory.Size);
            int at = now.CommonPrefixLength(_ram);
            Assert.True(at == _ram.Length, $"memory changed at 0x{at:X}");
        }
    }

    /// <summary>True when <paramref name="a"/> is canonical for 48-bit linear addresses (bits 63:47 all equal).</summary>
    public static bool IsCanonical(ulong a) => (ulong)((long)(a << 16) >> 16) == a;

    /// <summary>
    /// 64-bit values over the full range, mixed with edge values (0, ±1, sign bits, canonical
    /// boundaries) and small values, so that both rare and common cases come up.
    /// </summary>
    public static Gen<ulong> Full64 { get; } = Gen.Frequency(
        (6, Gen.Zip(Gen.Choose(int.MinValue, int.MaxValue), Gen.Choose(int.MinValue, int.MaxValue))
            .Select(t => ((ulong)(uint)t.Item1 << 32) | (uint)t.Item2)),
        (2, Gen.Elements(0UL, 1UL, 2UL, ulong.MaxValue, ulong.MaxValue - 1, 0x8000_0000_0000_0000UL, 0x7FFF_FFFF_FFFF_FFFFUL,
            0x0000_7FFF_FFFF_FFFFUL, 0x0000_8000_0000_0000UL, 0xFFFF_8000_0000_0000UL, 0xFFFF_7FFF_FFFF_FFFFUL,
            0x8000_0000UL, 0xFFFF_FFFFUL, 0x1_0000_0000UL, 0x80UL, 0xFFUL, 0x8000UL, 0xFFFFUL)),
        (2, Gen.Choose(-300, 300).Select(v => (ulong)(long)v)));

    public static Arbitrary<ulong> ArbFull64 => Arb.From(Full64);

    private sealed class ByteWriter : CodeWriter
    {
        private readonly List<byte> _bytes = new();
        public override void WriteByte(byte value) => _bytes.Add(value);
        public byte[] ToArray() => _bytes.ToArray();
    }
}
