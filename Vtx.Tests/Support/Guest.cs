using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Support;

/// <summary>Helpers that assemble guest code with Iced and run it on a fresh machine.</summary>
public static class Guest
{
    public const ulong CodeBase = 0x1000;
    public const ulong StackTop = 0x8_0000;

    public static byte[] Assemble(Action<Assembler> body, ulong at = CodeBase, int bitness = 64)
    {
        var a = new Assembler(bitness);
        body(a);
        var w = new CodeWriterImpl();
        a.Assemble(w, at);
        return w.ToArray();
    }

    /// <summary>A machine with <paramref name="code"/> at <see cref="CodeBase"/>, RSP at <see cref="StackTop"/>.</summary>
    public static Machine Load(byte[] code, int memoryMiB = 2, int bitness = 64)
    {
        var m = new Machine(new MachineOptions { MemoryMiB = memoryMiB, CodeSize = bitness });
        m.WriteMemory(CodeBase, code);
        m.Cpu.Rip = CodeBase;
        m.Cpu[Gpr.Rsp] = StackTop;
        return m;
    }

    /// <summary>Assembles <paramref name="body"/> followed by HLT and runs it to the HLT.</summary>
    public static Machine Run(Action<Assembler> body, Action<Cpu>? setup = null, int bitness = 64)
    {
        var code = Assemble(a => { body(a); a.hlt(); }, CodeBase, bitness);
        var m = Load(code, bitness: bitness);
        setup?.Invoke(m.Cpu);
        var r = m.Run(RunLimits.Instructions(1_000_000));
        if (r.Reason != StopReason.Halted) throw new InvalidOperationException("guest did not halt: " + r);
        return m;
    }

    private sealed class CodeWriterImpl : CodeWriter
    {
        private readonly List<byte> _bytes = new();
        public override void WriteByte(byte value) => _bytes.Add(value);
        public byte[] ToArray() => _bytes.ToArray();
    }
}
