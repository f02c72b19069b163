using Iced.Intel;

namespace Vtx.Timing;

/// <summary>
/// The cycle cost of instructions: a pure function of the instruction, so that the same program
/// always takes the same number of cycles. Vtx promises cycle-deterministic, not cycle-exact,
/// execution (see docs/ARCHITECTURE.md, "Time").
/// </summary>
public interface ICostModel
{
    /// <summary>A name and version identifying the table; recorded with traces so that cycle counts are reproducible.</summary>
    string Name { get; }

    /// <summary>
    /// Cycles charged when an instruction with Iced code <paramref name="code"/> retires;
    /// <paramref name="memoryForm"/> is true for the form with a memory operand. For REP string
    /// instructions this is the cost of one iteration. Must be at least 1 and at most 65535.
    /// </summary>
    int Cost(Code code, bool memoryForm);
}

/// <summary>
/// The default cost table ("vtx-cost-1"): latencies in the spirit of a recent Intel core (LLVM's
/// Skylake-server scheduling model was the guide), by instruction class rather than per encoding.
/// A register ALU operation costs 1; a memory operand adds the L1 load latency (4); a store adds 1;
/// multiply 3; divide 26 (32-bit) / 42 (64-bit); CPUID 100; RDTSC 25; PAUSE 140; taken or not,
/// branches cost the same (1), so that cycles do not depend on host branch prediction.
/// The table is documented in docs/ARCHITECTURE.md; callers may supply their own <see cref="ICostModel"/>.
/// </summary>
public sealed class DefaultCostModel : ICostModel
{
    /// <summary>The shared instance.</summary>
    public static DefaultCostModel Instance { get; } = new();

    /// <inheritdoc />
    public string Name => "vtx-cost-1";

    /// <inheritdoc />
    public int Cost(Code code, bool memoryForm)
    {
        Mnemonic m = code.Mnemonic();
        int baseCost = m switch
        {
            Mnemonic.Mul or Mnemonic.Imul or Mnemonic.Mulx => 3,
            Mnemonic.Div or Mnemonic.Idiv => code.ToString().Contains("64", StringComparison.Ordinal) ? 42 : 26,
            Mnemonic.Popcnt or Mnemonic.Lzcnt or Mnemonic.Tzcnt or Mnemonic.Bsf or Mnemonic.Bsr or Mnemonic.Pdep or Mnemonic.Pext => 3,
            Mnemonic.Rcl or Mnemonic.Rcr => 3,
            Mnemonic.Shld or Mnemonic.Shrd => 3,
            Mnemonic.Cmpxchg or Mnemonic.Xadd => 5,
            Mnemonic.Cmpxchg8b or Mnemonic.Cmpxchg16b => 10,
            Mnemonic.Xchg when memoryForm => 18, // implicitly locked
            Mnemonic.Cpuid => 100,
            Mnemonic.Rdtsc => 25,
            Mnemonic.Rdtscp => 32,
            Mnemonic.Pause => 140,
            Mnemonic.Enter => 8,
            Mnemonic.Leave => 3,
            Mnemonic.Call or Mnemonic.Ret => 2,
            Mnemonic.Pushf or Mnemonic.Pushfd or Mnemonic.Pushfq => 3,
            Mnemonic.Popf or Mnemonic.Popfd or Mnemonic.Popfq => 9,
            Mnemonic.Loop or Mnemonic.Loope or Mnemonic.Loopne => 2,
            Mnemonic.Hlt => 1,
            _ => 1,
        };
        if (memoryForm && m is not (Mnemonic.Lea or Mnemonic.Nop)) baseCost += 4;
        return baseCost;
    }
}
