using Iced.Intel;

namespace Vtx.Kit;

/// <summary>
/// A guest program being written with Iced's <see cref="Assembler"/> (64-bit): code assembled at
/// <see cref="VmxLab.GuestCode"/>, handlers for the vectors it cares about (<see cref="Handler"/>; every
/// other vector of its 64-entry IDT gets a stub that records the vector at <see cref="VmxLab.GuestUnexpected"/>
/// and halts), and named positions (<see cref="Mark"/>) whose addresses a run reports.
/// </summary>
public sealed class GuestAssembler
{
    private readonly Dictionary<string, Label> _marks = new();
    private readonly Dictionary<int, Label> _handlers = new();
    private Label _last;
    private int _lastAt = -1;

    /// <summary>The assembler the guest's instructions are written to (64-bit code).</summary>
    public Assembler A { get; } = new(64);

    /// <summary>The handler label of each vector the guest claimed with <see cref="Handler"/>.</summary>
    public IReadOnlyDictionary<int, Label> Handlers => _handlers;

    /// <summary>The named positions, by name.</summary>
    public IReadOnlyDictionary<string, Label> Marks => _marks;

    /// <summary>Names the current position (the address of the next instruction); returns its label.</summary>
    public Label Mark(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var l = Here(name);
        _marks[name] = l;
        return l;
    }

    /// <summary>Starts the handler of <paramref name="vector"/> (its IDT gate, SDM Vol. 3A, 6.14.1) at the current position, named <paramref name="name"/>.</summary>
    public void Handler(int vector, string name)
    {
        if (vector is < 0 or >= VmxLab.GuestVectors) throw new ArgumentOutOfRangeException(nameof(vector), vector, $"the guest IDT has {VmxLab.GuestVectors} vectors");
        _handlers[vector] = Mark(name);
    }

    // Iced allows one label per instruction: a second name for the same position shares the label.
    private Label Here(string name)
    {
        if (_lastAt == A.Instructions.Count) return _last;
        _last = A.CreateLabel(name);
        A.Label(ref _last);
        _lastAt = A.Instructions.Count;
        return _last;
    }

    /// <summary>
    /// The usual end of a guest: a position named "vmcall", VMCALL (exit reason 18, SDM Vol. 3C, 25.1.3: "I am done"),
    /// then a position named "stuck" with HLT and a jump back, in case the hypervisor resumes it.
    /// </summary>
    public void Done()
    {
        Mark("vmcall");
        A.vmcall();
        var stop = Mark("stuck");
        A.hlt();
        A.jmp(stop);
    }
}
