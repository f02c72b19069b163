using Vtx.Vmx;

namespace Vtx.Fuzz;

/// <summary>The kinds of fuzz case.</summary>
public enum FuzzKind
{
    /// <summary>Random guest code in flat 16-, 32- or 64-bit mode (exceptions stop the run and are skipped).</summary>
    Code,
    /// <summary>Random guest code under random 32-bit, PAE or 4-level page tables, with exceptions delivered through an IDT or intercepted.</summary>
    Paged,
    /// <summary>A VMX host with garbage in random VMCS fields, random guest code and random exit-handler actions.</summary>
    Vmx,
    /// <summary>Mutated multiboot and ELF images through the loaders, then a short run.</summary>
    Loader,
}

/// <summary>What one execution of a case did: a hash of the final state and its counts.</summary>
/// <param name="StateHash">FNV-1a hash of the registers, counters, VMX transitions and all of RAM.</param>
/// <param name="Instructions">Guest instructions retired.</param>
/// <param name="VmEntries">VM entries (successful or failed) observed.</param>
/// <param name="Stops">Run calls made (each bounded by instruction and cycle limits).</param>
public readonly record struct CaseResult(ulong StateHash, ulong Instructions, ulong VmEntries, int Stops);

/// <summary>The case bodies: each builds a machine from its seed, runs it within bounds and hashes the outcome.</summary>
public static class Cases
{
    private const ulong CodeBase = 0x1000, CodeBytes = 0x2000, DataBase = 0x1_0000, DataBytes = 0x1_0000, StackTop = 0x8_0000;
    private const int MaxStops = 2000;

    /// <summary>Runs case <paramref name="seed"/> of kind <paramref name="kind"/> once.</summary>
    public static CaseResult Execute(FuzzKind kind, ulong seed, FuzzOptions o) => kind switch
    {
        FuzzKind.Code => Code(seed, o),
        FuzzKind.Paged => Paged(seed, o),
        FuzzKind.Vmx => VmxCase(seed, o),
        _ => Loader(seed, o),
    };

    // ------------------------------------------------------------------ flat code

    private static CaseResult Code(ulong seed, FuzzOptions o)
    {
        var rng = new Rng(seed);
        int bits = rng.Pick(16, 32, 64, 64);
        var m = new Machine(new MachineOptions { MemoryMiB = 2, CodeSize = bits });
        FillGuest(ref rng, m, bits);
        if (rng.Chance(30)) AddMmio(ref rng, m);
        ulong insns = Drive(ref rng, m, o.InstructionsPerCase, out int stops);
        return new CaseResult(Hash(m, null), insns, 0, stops);
    }

    /// <summary>Random code, data, registers, flags, XMM and MXCSR; RIP at the code.</summary>
    private static void FillGuest(ref Rng rng, Machine m, int bits)
    {
        var code = new byte[CodeBytes];
        CodeGen.Generate(ref rng, (CodeStyle)rng.Below(3), bits, CodeBase, code);
        m.WriteMemory(CodeBase, code);
        var data = new byte[DataBytes];
        rng.Fill(data);
        m.WriteMemory(DataBase, data);
        Cpu c = m.Cpu;
        for (int r = 0; r < 16; r++) c[(Gpr)r] = rng.Value(DataBase, DataBase + DataBytes);
        c[Gpr.Rsp] = StackTop - (ulong)rng.Below(64) * 8;
        c.Rflags = rng.Next() & 0xCD5; // CF PF AF ZF SF DF OF
        for (int x = 0; x < 16; x++) c.SetXmm(x, new UInt128(rng.Next(), rng.Next()));
        c.Mxcsr = (uint)(rng.Next() & 0xFFBF) | (rng.Chance(50) ? 0x1F80u : 0); // masks mostly set, DAZ sometimes
        c.Rip = CodeBase;
    }

    /// <summary>
    /// A host device over part of the data area, at an unaligned base and size, so guest accesses
    /// straddle its ends: reads return a value mixed from the offset, size and a counter that writes advance.
    /// </summary>
    private static void AddMmio(ref Rng rng, Machine m)
    {
        ulong @base = DataBase + (ulong)rng.Below((int)DataBytes - 0x100);
        ulong size = 1 + (ulong)rng.Below(0x3000);
        ulong state = rng.Next();
        var device = new Vtx.Devices.DelegateMmioDevice(
            (offset, sz) => (state ^ offset * 0x9E37_79B9UL ^ (ulong)sz) & (sz >= 8 ? ulong.MaxValue : (1UL << (sz * 8)) - 1),
            (offset, sz, value) => state = state * 31 + value + offset);
        m.Cpu.Mmio.Register(@base, size, device);
    }

    /// <summary>
    /// Runs until the instruction budget is spent: each stop (exception, HLT, shutdown) restarts at a
    /// random code offset, at most <see cref="MaxStops"/> times. Returns the instructions retired.
    /// </summary>
    private static ulong Drive(ref Rng rng, Machine m, ulong budget, out int stops)
    {
        ulong retired = 0;
        stops = 0;
        while (retired < budget && stops < MaxStops)
        {
            // Half the runs are bounded by the instruction limit alone: it must bound host time by itself
            // (a REP string with a huge count stops between iterations).
            var r = m.Run(rng.Chance(50)
                ? new RunLimits { MaxInstructions = budget - retired }
                : new RunLimits { MaxInstructions = budget - retired, MaxCycles = (budget - retired) * 400 });
            retired += r.Instructions;
            stops++;
            if (r.Reason is StopReason.InstructionLimit or StopReason.CycleLimit) break;
            if (r.Reason is StopReason.Shutdown) break;
            // An exception, HLT, debug exit...: carry on somewhere else in the code.
            m.Cpu.Resume();
            m.Cpu.Rip = CodeBase + (ulong)rng.Below((int)CodeBytes);
        }
        return retired;
    }

    // ------------------------------------------------------------------ paging

    private const ulong Gdt = 0x2_0000 + 0x1_0000, Idt = Gdt + 0x1000, Tss = Gdt + 0x2000, Handler = Gdt + 0x3000, Tables = 0x4_0000;

    private static CaseResult Paged(ulong seed, FuzzOptions o)
    {
        var rng = new Rng(seed);
        int mode = rng.Below(3); // 0: 32-bit paging, 1: PAE, 2: 4-level
        int bits = mode == 2 ? 64 : 32;
        var m = new Machine(new MachineOptions { MemoryMiB = 4, CodeSize = bits });
        FillGuest(ref rng, m, bits);
        Cpu c = m.Cpu;
        var t = new TableBuilder(m, ref rng, mode);
        t.Build();
        rng = t.Rng;
        ulong cr4 = (mode == 0 ? (rng.Chance(50) ? Cr4.PSE : 0) : Cr4.PAE) | Cr4.OSFXSR | Cr4.OSXMMEXCPT
                    | (rng.Chance(30) ? Cr4.PGE : 0) | (rng.Chance(30) ? Cr4.SMEP : 0) | (rng.Chance(30) ? Cr4.SMAP : 0);
        c.Cr4Value = cr4;
        c.EferValue = (mode == 2 ? Efer.LME | Efer.LMA : 0) | (rng.Chance(60) ? Efer.NXE : 0);
        c.Cr0Value = Cr0.PE | Cr0.PG | Cr0.NE | Cr0.MP | (rng.Chance(60) ? Cr0.WP : 0) | (rng.Chance(10) ? Cr0.AM : 0);
        c.Cr3Value = Tables; // after CR0.PG: a CR3 load in PAE paging loads the PDPTEs
        if (mode == 2 && rng.Chance(60)) InstallIdt64(m, ref rng);
        else c.InterceptedExceptions = 0xFFFF_FFFF;
        if (mode == 2 && rng.Chance(30))
        {
            // CPL 3 with flat user segments.
            c.SetSegment(SegmentRegister.Cs, new SegmentCache(0x2B, 0, 0xFFFF_FFFF, 0xA0FB));
            c.SetSegment(SegmentRegister.Ss, new SegmentCache(0x33, 0, 0xFFFF_FFFF, 0xC0F3));
        }
        ulong insns = Drive(ref rng, m, o.InstructionsPerCase, out int stops);
        return new CaseResult(Hash(m, null), insns, 0, stops);
    }

    /// <summary>A GDT (64-bit kernel/user code and data, a TSS), and an IDT whose 256 gates lead to a HLT (some through IST 1).</summary>
    private static void InstallIdt64(Machine m, ref Rng rng)
    {
        Cpu c = m.Cpu;
        Span<byte> g = stackalloc byte[0x60];
        g.Clear();
        W64(g, 0x08, 0x00AF_9B00_0000_FFFF); // kernel code, L = 1
        W64(g, 0x10, 0x00CF_9300_0000_FFFF); // kernel data
        W64(g, 0x28, 0x00AF_FB00_0000_FFFF); // user code 64 (0x2B)
        W64(g, 0x30, 0x00CF_F300_0000_FFFF); // user data (0x33)
        ulong tssDesc = 0x67 | ((Tss & 0xFFFFFF) << 16) | (0x89UL << 40) | ((Tss >> 24) << 56);
        W64(g, 0x40, tssDesc);
        m.WriteMemory(Gdt, g);
        var tss = new byte[0x68];
        BitConverter.TryWriteBytes(tss.AsSpan(4), StackTop - 0x1000);   // RSP0
        BitConverter.TryWriteBytes(tss.AsSpan(0x24), StackTop - 0x2000); // IST1
        m.WriteMemory(Tss, tss);
        var idt = new byte[256 * 16];
        for (int v = 0; v < 256; v++)
        {
            ulong h = Handler;
            ulong lo = (h & 0xFFFF) | (0x08UL << 16) | ((ulong)(rng.Chance(20) ? 1 : 0) << 32) | ((ulong)(rng.Chance(30) ? 0xF : 0xE) << 40)
                       | ((ulong)(rng.Chance(50) ? 3 : 0) << 45) | (rng.Chance(97) ? 1UL << 47 : 0) | ((h >> 16 & 0xFFFF) << 48);
            BitConverter.TryWriteBytes(idt.AsSpan(v * 16), lo);
            BitConverter.TryWriteBytes(idt.AsSpan(v * 16 + 8), h >> 32);
        }
        m.WriteMemory(Idt, idt);
        m.WriteMemory(Handler, [0xF4, 0x48, 0xCF]); // hlt; iretq
        c.Gdtr = new DescriptorTableRegister(Gdt, 0x5F);
        c.Idtr = new DescriptorTableRegister(Idt, 256 * 16 - 1);
        c.Tr = new SegmentCache(0x40, Tss, 0x67, 0x8B);
        c.SetSegment(SegmentRegister.Cs, new SegmentCache(0x08, 0, 0xFFFF_FFFF, 0xA09B));
        c.SetSegment(SegmentRegister.Ss, new SegmentCache(0x10, 0, 0xFFFF_FFFF, 0xC093));
        c.InterceptedExceptions = (uint)rng.Next() & (uint)rng.Next();
    }

    private static void W64(Span<byte> s, int at, ulong v) => BitConverter.TryWriteBytes(s[at..], v);

    /// <summary>Page tables with random flags (present, writable, user, NX, large, accessed, dirty, global, reserved bits) over the guest's pages.</summary>
    private sealed class TableBuilder(Machine m, ref Rng rng, int mode)
    {
        public Rng Rng = rng;
        private ulong _next = Tables + 0x1000;

        public void Build()
        {
            // Map the code, data, stack and system pages (identity, with random rights), plus a few random pages.
            var pages = new List<ulong>();
            for (ulong p = 0; p < 0x10_0000; p += 0x1000) pages.Add(p);
            foreach (ulong lin in pages)
            {
                if (Rng.Chance(3)) continue; // unmapped
                Map(lin, Rng.Chance(5) ? (ulong)Rng.Below(1024) << 12 : lin);
            }
        }

        private ulong Flags(bool leaf)
        {
            ulong f = 1 | (Rng.Chance(85) ? 2UL : 0) | (Rng.Chance(70) ? 4UL : 0) | (Rng.Chance(50) ? 0x20UL : 0);
            if (leaf) f |= (Rng.Chance(50) ? 0x40UL : 0) | (Rng.Chance(20) ? 0x100UL : 0);
            if (mode != 0 && Rng.Chance(15)) f |= 1UL << 63; // NX (reserved without EFER.NXE)
            if (Rng.Chance(2)) f |= 1UL << (mode == 0 ? 13 : 51); // a reserved bit now and then
            if (Rng.Chance(2)) f &= ~1UL;
            return f;
        }

        private ulong Table(ulong entryAddr, bool wide)
        {
            ulong e = Read(entryAddr, wide);
            if ((e & 1) != 0 && (e & 0x80) == 0) return e & 0xF_FFFF_F000;
            ulong t = _next;
            _next += 0x1000;
            Write(entryAddr, t | Flags(false), wide);
            return t;
        }

        private void Map(ulong lin, ulong pa)
        {
            if (mode == 0)
            {
                ulong pde = Tables + (lin >> 22) * 4;
                if ((Read(pde, false) & 0x80) != 0) return;
                ulong pt = Table(pde, false);
                Write(pt + ((lin >> 12) & 0x3FF) * 4, pa | Flags(true), false);
                return;
            }
            ulong pd;
            if (mode == 1)
            {
                // PAE: 4 PDPTEs at CR3 (only P and a few reserved bits are meaningful there).
                ulong pdpte = Tables + (lin >> 30) * 8;
                ulong e = Read(pdpte, true);
                if ((e & 1) == 0) { e = _next | 1; _next += 0x1000; Write(pdpte, e, true); }
                pd = e & 0xF_FFFF_F000;
            }
            else
            {
                ulong pdpt = Table(Tables + ((lin >> 39) & 511) * 8, true);
                pd = Table(pdpt + ((lin >> 30) & 511) * 8, true);
            }
            ulong pdeAddr = pd + ((lin >> 21) & 511) * 8;
            if (Rng.Chance(3) && (Read(pdeAddr, true) & 1) == 0)
            {
                Write(pdeAddr, (pa & ~0x1F_FFFFUL) | 0x80 | Flags(true), true); // a 2-MiB page
                return;
            }
            if ((Read(pdeAddr, true) & 0x80) != 0) return;
            ulong pt2 = Table(pdeAddr, true);
            Write(pt2 + ((lin >> 12) & 511) * 8, pa | Flags(true), true);
        }

        private ulong Read(ulong a, bool wide) =>
            wide ? BitConverter.ToUInt64(m.ReadMemory(a, 8)) : BitConverter.ToUInt32(m.ReadMemory(a, 4));

        private void Write(ulong a, ulong v, bool wide) =>
            m.WriteMemory(a, wide ? BitConverter.GetBytes(v) : BitConverter.GetBytes((uint)v));
    }

    // ------------------------------------------------------------------ VMX

    private static CaseResult VmxCase(ulong seed, FuzzOptions o)
    {
        var rng = new Rng(seed);
        var rig = new VmxRig(ref rng);
        ulong insns = rig.Fuzz(o.VmEntriesPerCase, o.InstructionsPerCase, out int stops);
        rng = rig.Rng;
        return new CaseResult(Hash(rig.Machine, rig.Transitions), insns, (ulong)rig.Entries, stops);
    }

    // ------------------------------------------------------------------ loaders

    private static CaseResult Loader(ulong seed, FuzzOptions o)
    {
        var rng = new Rng(seed);
        bool elf = rng.Chance(50);
        byte[] image = elf ? LoaderImages.Elf64(ref rng) : LoaderImages.Multiboot(ref rng);
        LoaderImages.Mutate(ref rng, ref image);
        var m = new Machine(new MachineOptions { MemoryMiB = 4 });
        try
        {
            if (elf) m.LoadElf(image);
            else m.LoadMultiboot(image);
        }
        catch (Loaders.InvalidImageException)
        {
            return new CaseResult(0x1BAD, 0, 0, 0); // the documented refusal
        }
        var r = m.Run(new RunLimits { MaxInstructions = Math.Min(o.InstructionsPerCase, 5_000), MaxCycles = 1_000_000 });
        return new CaseResult(Hash(m, null), r.Instructions, 0, 1);
    }

    // ------------------------------------------------------------------ state hash

    /// <summary>FNV-1a over the registers, counters, the VMX transitions seen and all of RAM.</summary>
    public static ulong Hash(Machine m, List<VmxTransition>? transitions)
    {
        ulong h = 0xCBF2_9CE4_8422_2325;
        void Add(ulong v)
        {
            for (int i = 0; i < 8; i++) { h ^= (byte)(v >> (i * 8)); h *= 0x100_0000_01B3; }
        }
        Cpu c = m.Cpu;
        for (int r = 0; r < 16; r++) Add(c[(Gpr)r]);
        Add(c.Rip); Add(c.Rflags); Add(c.Cycles); Add(c.InstructionsRetired);
        Add(c.Cr0Value); Add(c.Cr2Value); Add(c.Cr3Value); Add(c.Cr4Value); Add(c.EferValue);
        for (int x = 0; x < 16; x++) { UInt128 v = c.GetXmm(x); Add((ulong)v); Add((ulong)(v >> 64)); }
        Add(c.Mxcsr); Add(c.FpuStatusWord); Add(c.FpuControlWord);
        for (int s = 0; s < 6; s++) { var seg = c.GetSegment((SegmentRegister)s); Add(seg.Selector); Add(seg.Base); Add(seg.AccessRights); }
        if (transitions is not null)
        {
            Add((ulong)transitions.Count);
            foreach (var t in transitions) { Add((ulong)t.Kind); Add(t.ExitReason); Add(t.Qualification); Add(t.Cycle); }
        }
        byte[] ram = m.ReadMemory(0, (int)Math.Min(m.Memory.Size, 64UL << 20));
        for (int i = 0; i + 8 <= ram.Length; i += 8)
        {
            ulong v = BitConverter.ToUInt64(ram, i);
            if (v != 0) { Add((ulong)i); Add(v); }
        }
        return h;
    }
}
