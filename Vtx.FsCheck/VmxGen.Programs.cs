using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Vtx.Kit;

namespace Vtx.Kit.Generators;

/// <summary>A schedule of device events for a run (<see cref="ScheduledEvent"/>), in the order they were posted.</summary>
/// <param name="Events">The events.</param>
public sealed record EventSchedule(IReadOnlyList<ScheduledEvent> Events)
{
    /// <summary>The cycle (after the anchor) at which each event is raised, in posting order.</summary>
    public IEnumerable<ulong> Delays => Events.Select(e => e.Delay);

    /// <summary>"NMI @200, external interrupt 0x30 @5000".</summary>
    public override string ToString() => Events.Count == 0 ? "(none)" : string.Join(", ", Events.Select(e => $"{e.DisplayName} @{e.Delay} after {e.Anchor}"));
}

/// <summary>
/// A small guest program for 64-bit mode: straight-line integer instructions (ALU, shifts, moves, exchanges,
/// flags) on every general-purpose register but RSP, with full-range immediates, optionally CPUID (which always
/// causes a VM exit, reason 10; SDM Vol. 3C, 25.1.2) and PAUSE; <see cref="EmitTo"/> appends it to a guest.
/// </summary>
/// <param name="Instructions">The instructions, in order (Iced <see cref="Instruction"/>s, each valid in 64-bit mode).</param>
public sealed record GuestProgram(IReadOnlyList<Instruction> Instructions)
{
    /// <summary>How many CPUID instructions the program has (each exits unconditionally in VMX non-root operation).</summary>
    public int CpuidCount => Instructions.Count(i => i.Code == Code.Cpuid);

    /// <summary>Appends the instructions to <paramref name="g"/>'s assembler, each at a position named "i0", "i1", ...</summary>
    public void EmitTo(GuestAssembler g)
    {
        ArgumentNullException.ThrowIfNull(g);
        for (int k = 0; k < Instructions.Count; k++)
        {
            g.Mark($"i{k}");
            g.A.AddInstruction(Instructions[k]);
        }
    }

    /// <summary>The program in Intel syntax, one instruction per line.</summary>
    public override string ToString()
    {
        var f = new IntelFormatter();
        var o = new StringOutput();
        var lines = new List<string>();
        foreach (var i in Instructions)
        {
            f.Format(i, o);
            lines.Add(o.ToStringAndReset());
        }
        return string.Join("; ", lines);
    }
}

public static partial class VmxGen
{
    /// <summary>
    /// Event schedules of up to <paramref name="maxEvents"/> NMIs and external interrupts (vectors 32-255), each
    /// anchored at the first VM entry, at delays spread over [0, <paramref name="horizon"/>] and at least
    /// <paramref name="minSpacing"/> cycles apart (so that each can be handled before the next arrives), including
    /// the boundary delays 0 and <paramref name="horizon"/>. Events are posted in the order of their delays.
    /// </summary>
    public static Gen<EventSchedule> Events(int maxEvents = 4, ulong horizon = 200_000, ulong minSpacing = 5_000)
    {
        if (maxEvents < 0) throw new ArgumentOutOfRangeException(nameof(maxEvents));
        if (minSpacing == 0 || horizon / minSpacing < (ulong)Math.Max(maxEvents - 1, 0)) throw new ArgumentOutOfRangeException(nameof(minSpacing), "the events do not fit in the horizon");
        var one = from nmi in Gen.Elements(true, false) from v in Gen.Choose(32, 255) select (nmi, (byte)v);
        var delay = Gen.Frequency((6, UInt64.Select(x => x % (horizon + 1))), (1, Gen.Elements(0UL, horizon)));
        return
            from n in Gen.Choose(0, maxEvents)
            from kinds in Gen.ArrayOf(one, n)
            from raw in Gen.ArrayOf(delay, n)
            select new EventSchedule(Spread(raw, horizon, minSpacing)
                .Select((d, k) => kinds[k].nmi ? ScheduledEvent.NmiAt(d) : ScheduledEvent.InterruptAt(kinds[k].Item2, d)).ToArray());
    }

    /// <summary>Sorts the delays and pushes each at least <paramref name="spacing"/> after the previous, pulling back from the horizon when needed.</summary>
    private static ulong[] Spread(ulong[] raw, ulong horizon, ulong spacing)
    {
        var d = raw.OrderBy(x => x).ToArray();
        for (int k = 1; k < d.Length; k++) d[k] = Math.Max(d[k], d[k - 1] + spacing);
        for (int k = d.Length - 1; k >= 0; k--)
        {
            ulong limit = horizon - (ulong)(d.Length - 1 - k) * spacing;
            if (d[k] > limit) d[k] = limit;
        }
        return d;
    }

    private static readonly Register[] Gprs =
    [
        Register.RAX, Register.RBX, Register.RCX, Register.RDX, Register.RSI, Register.RDI, Register.RBP,
        Register.R8, Register.R9, Register.R10, Register.R11, Register.R12, Register.R13, Register.R14, Register.R15,
    ];

    private static readonly Code[] RegReg =
    [
        Code.Add_r64_rm64, Code.Sub_r64_rm64, Code.And_r64_rm64, Code.Or_r64_rm64, Code.Xor_r64_rm64, Code.Adc_r64_rm64,
        Code.Sbb_r64_rm64, Code.Cmp_r64_rm64, Code.Mov_r64_rm64, Code.Imul_r64_rm64, Code.Add_r32_rm32, Code.Xor_r32_rm32,
    ];

    private static readonly Code[] RegOnly = [Code.Inc_rm64, Code.Dec_rm64, Code.Neg_rm64, Code.Not_rm64, Code.Bswap_r64];

    private static readonly Code[] Shifts = [Code.Shl_rm64_imm8, Code.Shr_rm64_imm8, Code.Sar_rm64_imm8, Code.Rol_rm64_imm8, Code.Ror_rm64_imm8];

    /// <summary>One instruction of a <see cref="GuestProgram"/> (no CPUID unless <paramref name="cpuid"/>).</summary>
    private static Gen<Instruction> OneInstruction(bool cpuid)
    {
        var r = Gen.Elements(Gprs);
        var choices = new List<(int, Gen<Instruction>)>
        {
            (5, from c in Gen.Elements(RegReg) from a in r from b in r select Instruction.Create(c, Narrow(c, a), Narrow(c, b))),
            (2, from c in Gen.Elements(RegOnly) from a in r select Instruction.Create(c, a)),
            (2, from c in Gen.Elements(Shifts) from a in r from n in Gen.Choose(0, 255) select Instruction.Create(c, a, n)),
            (2, from a in r from v in UInt64 select Instruction.Create(Code.Mov_r64_imm64, a, v)),
            (1, from a in r from v in Gen.Choose(int.MinValue, int.MaxValue) select Instruction.Create(Code.Add_rm64_imm32, a, v)),
            (1, from a in r from b in r select Instruction.Create(Code.Xchg_rm64_r64, a, b)),
            (1, Gen.Elements(Code.Stc, Code.Clc, Code.Cmc, Code.Nopd, Code.Pause, Code.Cqo, Code.Lahf).Select(c => Instruction.Create(c))),
        };
        if (cpuid) choices.Add((1, Gen.Constant(Instruction.Create(Code.Cpuid))));
        return Gen.Frequency(choices.ToArray());
    }

    private static Register Narrow(Code c, Register r) => c is Code.Add_r32_rm32 or Code.Xor_r32_rm32 ? r - Register.RAX + Register.EAX : r;

    /// <summary>
    /// Straight-line 64-bit guest programs of 0-<paramref name="maxLength"/> instructions (<see cref="GuestProgram"/>):
    /// integer work on every GPR but RSP with full-range immediates and shift counts, and CPUID when <paramref name="cpuid"/>.
    /// No instruction faults or touches memory, so the program runs to its end in any 64-bit guest.
    /// </summary>
    public static Gen<GuestProgram> Programs(int maxLength = 24, bool cpuid = true)
    {
        if (maxLength < 0) throw new ArgumentOutOfRangeException(nameof(maxLength));
        return from n in Gen.Choose(0, maxLength) from xs in Gen.ArrayOf(OneInstruction(cpuid), n) select new GuestProgram(xs);
    }
}
