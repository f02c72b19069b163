using Iced.Intel;
using Vtx.Decoding;
using Vtx.Timing;

namespace Vtx.Bench;

/// <summary>
/// Vtx's block simulation (Vtx.Core/Timing/Engine, BlockSimulator): the block staged as a decoded run and
/// simulated in steady state; cycles per iteration as the simulator measures them (a fraction, before the
/// per-instruction rounding that execution uses).
/// </summary>
public sealed class EngineBlockTimer : IBlockTimer
{
    public string Name => "engine";

    public double CyclesPerIteration(TimingProfile profile, IReadOnlyList<Instruction> block)
    {
        BlockSimulator sim = BlockSimulator.ForThread;
        sim.Begin(EngineProfileAdapter.For(profile));
        foreach (Instruction ins in block)
        {
            DecodedInstruction d = InstructionTranslator.Translate(ins, 64);
            sim.Stage(ins, d, 64);
        }
        var (cycles, iterations) = sim.Measure();
        return iterations == 0 ? 0 : (double)cycles / iterations;
    }
}
