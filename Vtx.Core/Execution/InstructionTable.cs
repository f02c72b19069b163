using Iced.Intel;
using Vtx.Decoding;

namespace Vtx.Execution;

/// <summary>
/// The handler table of the table-driven instructions (<see cref="Op.Ext"/>): per Iced
/// <see cref="Code"/>, the handler that executes it and a variant byte the handler receives in
/// <see cref="DecodedInstruction.Cond"/>. It is the single list of which table-driven codes Vtx
/// models; which of them a processor offers comes from Iced's <c>Code.CpuidFeatures()</c> and the
/// <see cref="CpuModel"/> (see <see cref="CpuModel.Offers"/>), so an instruction cannot be half-added:
/// registering it is adding it, and a test checks that every code of an offered feature is here.
/// </summary>
internal sealed unsafe class InstructionTable
{
    private static readonly int CodeCount = Enum.GetValues<Code>().Length;

    private readonly delegate*<Cpu, ref DecodedInstruction, void>[] _handlers = new delegate*<Cpu, ref DecodedInstruction, void>[CodeCount];
    private readonly byte[] _variants = new byte[CodeCount];

    /// <summary>Registers <paramref name="handler"/> for <paramref name="code"/>; a code registered twice is a programming error.</summary>
    /// <exception cref="InvalidOperationException"><paramref name="code"/> already has a handler.</exception>
    public void Add(Code code, delegate*<Cpu, ref DecodedInstruction, void> handler, byte variant = 0)
    {
        if (_handlers[(int)code] != null) throw new InvalidOperationException($"{code} is registered twice in the instruction table");
        _handlers[(int)code] = handler;
        _variants[(int)code] = variant;
    }

    /// <summary>True when <paramref name="code"/> has a handler.</summary>
    public bool Has(Code code) => (uint)code < (uint)CodeCount && _handlers[(int)code] != null;

    /// <summary>The registered variant of <paramref name="code"/>.</summary>
    public byte Variant(Code code) => _variants[(int)code];

    /// <summary>The handler of <paramref name="code"/> (null when none).</summary>
    public delegate*<Cpu, ref DecodedInstruction, void> Handler(Code code) => _handlers[(int)code];

    /// <summary>Every registered code, in code order.</summary>
    public List<Code> Codes()
    {
        var list = new List<Code>();
        for (int i = 0; i < CodeCount; i++)
            if (_handlers[i] != null) list.Add((Code)i);
        return list;
    }
}
