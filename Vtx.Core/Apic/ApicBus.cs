namespace Vtx.Apic;

/// <summary>
/// The interrupt-message bus between the local APICs of a machine with several processors (the
/// system bus of SDM Vol. 3A, 11.1 and 11.6): IPIs from an ICR and messages from the I/O APIC reach
/// every local APIC they name. Delivery is immediate and happens on the one host thread that runs
/// the machine, in processor order, so it is deterministic.
/// </summary>
/// <remarks>
/// Lowest-priority delivery (SDM 11.6.2.4 leaves the arbitration to the model) picks, among the
/// destinations that are enabled, the one with the lowest processor priority (PPR); ties go to the
/// lowest APIC ID (then processor index). SMI messages are dropped: Vtx has no SMM. A processor
/// never delivers INIT or a start-up to itself (the SDM lists "self" and "all including self" with
/// INIT/SIPI as invalid); with the other destinations the message goes on.
/// </remarks>
internal sealed class ApicBus
{
    private readonly LocalApic[] _apics;

    public ApicBus(LocalApic[] apics) => _apics = apics;

    /// <summary>Sends an IPI from <paramref name="sender"/>: ICR delivery mode, destination shorthand, destination, mode, vector, trigger mode.</summary>
    public void SendIpi(LocalApic sender, int mode, int shorthand, uint destination, bool logical, byte vector, bool level)
    {
        if (mode == 1)
        {
            LocalApic? best = null;
            foreach (var a in _apics)
                if (Targets(sender, a, shorthand, destination, logical) && (best is null || Outranks(a, best))) best = a;
            best?.Accept(vector, level);
            return;
        }
        foreach (var a in _apics)
        {
            if (!Targets(sender, a, shorthand, destination, logical)) continue;
            Deliver(a, mode, vector, level, self: ReferenceEquals(a, sender));
        }
    }

    /// <summary>A message from the I/O APIC (or an MSI): to every destination, or the lowest-priority one.</summary>
    public void DeliverMessage(uint destination, bool logical, int mode, byte vector, bool level)
    {
        if (mode == 1)
        {
            LocalApic? best = null;
            foreach (var a in _apics)
                if (a.IsDestinationOf(destination, logical) && (best is null || Outranks(a, best))) best = a;
            best?.DeliverMessage(1, vector, level);
            return;
        }
        foreach (var a in _apics)
            if (a.IsDestinationOf(destination, logical)) a.DeliverMessage(mode, vector, level);
    }

    /// <summary>The lowest-priority rule: lower PPR wins, then the lower APIC ID (processor order breaks the rest).</summary>
    private static bool Outranks(LocalApic a, LocalApic best)
    {
        uint pa = a.Ppr, pb = best.Ppr;
        return pa < pb || (pa == pb && a.Id < best.Id);
    }

    private static bool Targets(LocalApic sender, LocalApic a, int shorthand, uint destination, bool logical) => shorthand switch
    {
        1 => ReferenceEquals(a, sender),
        2 => a.IsDestinationOf(0xFFFF_FFFF, false),
        3 => !ReferenceEquals(a, sender) && a.IsDestinationOf(0xFFFF_FFFF, false),
        _ => a.IsDestinationOf(destination, logical),
    };

    private static void Deliver(LocalApic a, int mode, byte vector, bool level, bool self)
    {
        switch (mode)
        {
            case 0: a.Accept(vector, level); break;
            case 4: a.RaiseNmiSignal(); break;
            case 5: if (!self) a.InitSignal?.Invoke(); break;
            case 6: if (!self) a.StartupSignal?.Invoke(vector); break;
            // 2 (SMI): no SMM; 3 and 7 are reserved for IPIs.
        }
    }
}
