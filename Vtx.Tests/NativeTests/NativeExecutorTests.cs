using System.Buffers.Binary;
using Iced.Intel;
using Vtx.Tests.Native;
using Xunit;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.NativeTests;

/// <summary>Checks the native oracle itself against hand-computed results.</summary>
public sealed class NativeExecutorTests : IDisposable
{
    private const ulong CodeAddr = NativeExecutor.CodeAddress;
    private readonly NativeExecutor? _cpu;
    private readonly ITestOutputHelper _log;

    public NativeExecutorTests(ITestOutputHelper log)
    {
        _log = log;
        if (NativeExecutor.IsSupported)
            _cpu = new NativeExecutor();
    }

    private NativeExecutor Cpu => _cpu ?? throw new InvalidOperationException(NativeExecutor.UnsupportedReason);

    public void Dispose() => _cpu?.Dispose();

    /// <summary>Assembles with Iced for <paramref name="rip"/> (default <see cref="NativeExecutor.CodeAddress"/>).</summary>
    private static byte[] Asm(Action<Assembler> build, ulong rip = CodeAddr)
    {
        var a = new Assembler(64);
        build(a);
        using var ms = new MemoryStream();
        a.Assemble(new StreamCodeWriter(ms), rip);
        return ms.ToArray();
    }

    private static ulong[] Edges =>
    [
        0, 1, 2, 0x7F, 0x80, 0xFF, 0x0F, 0x10, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000,
        0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0x8000_0000_0000_0001, 0xFFFF_FFFF_FFFF_FFFE, ulong.MaxValue,
    ];

    private static bool EvenParity(ulong v) => (System.Numerics.BitOperations.PopCount(v & 0xFF) & 1) == 0;

    private static ulong ExpectedAddFlags(ulong a, ulong b)
    {
        ulong r = a + b;
        ulong f = 0;
        if (r < a) f |= NativeRflags.CF;
        if (EvenParity(r)) f |= NativeRflags.PF;
        if (((a ^ b ^ r) & 0x10) != 0) f |= NativeRflags.AF;
        if (r == 0) f |= NativeRflags.ZF;
        if ((long)r < 0) f |= NativeRflags.SF;
        if ((((a ^ r) & (b ^ r)) >> 63) != 0) f |= NativeRflags.OF;
        return f;
    }

    [NativeFact]
    public void AddRaxRbx_FullRange_MatchesReferenceResultAndFlags()
    {
        byte[] add = Asm(a => a.add(rax, rbx));
        Assert.Equal(new byte[] { 0x48, 0x01, 0xD8 }, add);

        var rng = new Random(12345);
        var pairs = new List<(ulong, ulong)>();
        foreach (ulong x in Edges)
            foreach (ulong y in Edges)
                pairs.Add((x, y));
        for (int i = 0; i < 500; i++)
            pairs.Add(((ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 40), (ulong)rng.NextInt64() << (i % 2)));

        foreach (var (x, y) in pairs)
        {
            var input = CpuSnapshot.CreateDefault();
            input[NativeGpr.Rax] = x;
            input[NativeGpr.Rbx] = y;
            input[NativeGpr.R11] = 0x1111_2222_3333_4444;
            input.Rflags = (ulong)rng.Next() & NativeRflags.Status; // ADD overwrites all six

            var output = Cpu.Run(add, input);

            Assert.Equal(x + y, output[NativeGpr.Rax]);
            Assert.Equal(y, output[NativeGpr.Rbx]);
            Assert.Equal(0x1111_2222_3333_4444UL, output[NativeGpr.R11]);
            Assert.Equal(NativeExecutor.StackTop, output[NativeGpr.Rsp]);
            Assert.True(ExpectedAddFlags(x, y) == output.StatusFlags,
                $"add {x:X}+{y:X}: expected [{CpuSnapshot.FormatFlags(ExpectedAddFlags(x, y))}] got [{CpuSnapshot.FormatFlags(output.Rflags)}]");
            Assert.Equal(CodeAddr + 3, output.ExitRip);
        }
    }

    [NativeFact]
    public void Nop_AllRegistersAndInputFlagsRoundTrip_EvenWithArbitraryRsp()
    {
        var rng = new Random(7);
        for (int round = 0; round < 64; round++)
        {
            var input = new CpuSnapshot();
            for (int i = 0; i < CpuSnapshot.GprCount; i++)
                input.Gpr[i] = (ulong)rng.NextInt64() * 3 + (ulong)i;   // RSP too: NOP never touches the stack
            input.Rflags = (ulong)rng.NextInt64() & NativeRflags.InputMask;
            var before = input.Clone();

            var output = Cpu.Run([0x90], input);

            Assert.Equal(before.Gpr, input.Gpr);       // input untouched
            Assert.Equal(input.Gpr, output.Gpr);
            Assert.Equal(input.Rflags & NativeRflags.InputMask, output.Rflags & NativeRflags.InputMask);
            Assert.NotEqual(0UL, output.Rflags & NativeRflags.Reserved1);
            Assert.Equal(CodeAddr + 1, output.ExitRip);
        }
    }

    [NativeFact]
    public void InputTfAndAcAreDropped_NoTrapOrAlignmentCheck()
    {
        var input = CpuSnapshot.CreateDefault();
        input[NativeGpr.Rbx] = NativeExecutor.ScratchAddress + 1; // misaligned qword load would #AC if AC reached the CPU
        input.Rflags = NativeRflags.TF | NativeRflags.AC | NativeRflags.CF | (1UL << 21) /* ID */ | (1UL << 14) /* NT */;

        var output = Cpu.Run(Asm(a => a.mov(rax, __qword_ptr[rbx])), input, new byte[16]);

        Assert.Equal(0UL, output.Rflags & (NativeRflags.TF | NativeRflags.AC | (1UL << 14)));
        Assert.Equal(NativeRflags.CF, output.StatusFlags);
        Assert.Equal(0UL, output[NativeGpr.Rax]);
    }

    [NativeFact]
    public void Std_IsReported_AndHostDirectionFlagIsRestored()
    {
        var output = Cpu.Run([0xFD], CpuSnapshot.CreateDefault()); // std
        Assert.NotEqual(0UL, output.Rflags & NativeRflags.DF);

        // If DF leaked back into .NET, overlapping copies (memmove) would go badly wrong.
        int[] data = Enumerable.Range(0, 1000).ToArray();
        Array.Copy(data, 0, data, 1, 999);
        Assert.Equal(Enumerable.Range(0, 999), data.Skip(1));

        var input = CpuSnapshot.CreateDefault();
        input.Rflags = NativeRflags.DF;
        Assert.Equal(0UL, Cpu.Run([0xFC], input).Rflags & NativeRflags.DF); // cld
    }

    [NativeFact]
    public void PushRax_DecrementsRspAndWritesStack()
    {
        var input = CpuSnapshot.CreateDefault();
        input[NativeGpr.Rax] = 0x0123_4567_89AB_CDEF;
        var stack = new byte[64];

        var output = Cpu.Run([0x50], input, Span<byte>.Empty, stack);

        Assert.Equal(NativeExecutor.StackTop - 8, output[NativeGpr.Rsp]);
        Assert.Equal(0x0123_4567_89AB_CDEFUL, BinaryPrimitives.ReadUInt64LittleEndian(stack.AsSpan(56)));
        Assert.All(stack[..56], b => Assert.Equal(0, b));
        Assert.Equal(CodeAddr + 1, output.ExitRip);
    }

    [NativeFact]
    public void PopRcx_ReadsStackAndIncrementsRsp()
    {
        var input = CpuSnapshot.CreateDefault();
        input[NativeGpr.Rsp] = NativeExecutor.StackTop - 16;
        var stack = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(stack, 0xFEED_FACE_CAFE_BEEF);

        var output = Cpu.Run([0x59], input, Span<byte>.Empty, stack);

        Assert.Equal(0xFEED_FACE_CAFE_BEEFUL, output[NativeGpr.Rcx]);
        Assert.Equal(NativeExecutor.StackTop - 8, output[NativeGpr.Rsp]);
    }

    [NativeFact]
    public void PopAtStackTop_ReadsZeroedSlackInsteadOfCrashing()
    {
        var input = CpuSnapshot.CreateDefault();
        input[NativeGpr.Rax] = 99;
        var output = Cpu.Run([0x58], input); // pop rax
        Assert.Equal(0UL, output[NativeGpr.Rax]);
        Assert.Equal(NativeExecutor.StackTop + 8, output[NativeGpr.Rsp]);
    }

    [NativeTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void JzRel32ToBranchTarget_TakenOnlyWhenZf(bool zf)
    {
        byte[] jz = Asm(a => a.jz(NativeExecutor.BranchTarget));
        Assert.Equal(6, jz.Length); // 0F 84 rel32

        var input = CpuSnapshot.CreateDefault();
        input.Rflags = zf ? NativeRflags.ZF : 0;
        var output = Cpu.Run(jz, input);

        Assert.Equal(zf ? NativeExecutor.BranchTarget : CodeAddr + 6, output.ExitRip);
        Assert.Equal(input.Rflags & NativeRflags.Status, output.StatusFlags);
    }

    [NativeTheory]
    [InlineData(2UL, true)]
    [InlineData(1UL, false)]
    [InlineData(0UL, true)] // wraps to 2^64-1
    public void LoopToShortBranchTarget(ulong rcx, bool taken)
    {
        byte[] loop = Asm(a => a.loop(NativeExecutor.ShortBranchTarget));
        Assert.Equal(2, loop.Length);

        var input = CpuSnapshot.CreateDefault();
        input[NativeGpr.Rcx] = rcx;
        var output = Cpu.Run(loop, input);

        Assert.Equal(rcx - 1, output[NativeGpr.Rcx]);
        Assert.Equal(taken ? NativeExecutor.ShortBranchTarget : CodeAddr + 2, output.ExitRip);
    }

    [NativeTheory]
    [InlineData(0UL, true)]
    [InlineData(0x1_0000_0000UL, false)]
    public void JrcxzToShortBranchTarget(ulong rcx, bool taken)
    {
        byte[] jrcxz = Asm(a => a.jrcxz(NativeExecutor.ShortBranchTarget));
        var input = CpuSnapshot.CreateDefault();
        input[NativeGpr.Rcx] = rcx;
        Assert.Equal(taken ? NativeExecutor.ShortBranchTarget : CodeAddr + (ulong)jrcxz.Length, Cpu.Run(jrcxz, input).ExitRip);
    }

    [NativeFact]
    public void CallRel32_PushesReturnAddressAndLandsOnBranchTarget()
    {
        byte[] call = Asm(a => a.call(NativeExecutor.BranchTarget));
        Assert.Equal(5, call.Length);
        var stack = new byte[8];

        var output = Cpu.Run(call, CpuSnapshot.CreateDefault(), Span<byte>.Empty, stack);

        Assert.Equal(NativeExecutor.BranchTarget, output.ExitRip);
        Assert.Equal(NativeExecutor.StackTop - 8, output[NativeGpr.Rsp]);
        Assert.Equal(CodeAddr + 5, BinaryPrimitives.ReadUInt64LittleEndian(stack));
    }

    [NativeFact]
    public void Ret_PoppingBranchTarget_LandsOnBranchTarget()
    {
        var input = CpuSnapshot.CreateDefault();
        input[NativeGpr.Rsp] = NativeExecutor.StackTop - 8;
        var stack = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(stack, NativeExecutor.BranchTarget);

        var output = Cpu.Run([0xC3], input, Span<byte>.Empty, stack);

        Assert.Equal(NativeExecutor.BranchTarget, output.ExitRip);
        Assert.Equal(NativeExecutor.StackTop, output[NativeGpr.Rsp]);
    }

    [NativeFact]
    public void AddToScratchMemory_ReadsAndWritesScratchBuffer()
    {
        byte[] insn = Asm(a => a.add(__qword_ptr[rbx + 8], rax));
        var scratch = new byte[NativeExecutor.ScratchSize];
        BinaryPrimitives.WriteUInt64LittleEndian(scratch.AsSpan(8), ulong.MaxValue);
        scratch[^1] = 0x5A;

        var input = CpuSnapshot.CreateDefault();
        input[NativeGpr.Rbx] = NativeExecutor.ScratchAddress;
        input[NativeGpr.Rax] = 1;
        var output = Cpu.Run(insn, input, scratch);

        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(scratch.AsSpan(8)));
        Assert.Equal(0x5A, scratch[^1]);
        Assert.Equal(NativeRflags.CF | NativeRflags.ZF | NativeRflags.PF | NativeRflags.AF, output.StatusFlags);
    }

    [NativeFact]
    public void MovFromAbsoluteScratchAddress_AndShortScratchImagesAreZeroExtended()
    {
        // mov rax, [disp32] with SIB (no base): 48 8B 04 25 disp32
        byte[] load = [0x48, 0x8B, 0x04, 0x25, 0x10, 0x00, 0x20, 0x00];
        var scratch = new byte[24];
        BinaryPrimitives.WriteUInt64LittleEndian(scratch.AsSpan(16), 0xA5A5_0000_1234_5678);
        Assert.Equal(0xA5A5_0000_1234_5678UL, Cpu.Run(load, CpuSnapshot.CreateDefault(), scratch)[NativeGpr.Rax]);

        // A previous run's memory does not leak into the next one.
        Assert.Equal(0UL, Cpu.Run(load, CpuSnapshot.CreateDefault())[NativeGpr.Rax]);
    }

    [NativeFact]
    public void RipRelativeLea_SeesInstructionAtCodeAddress()
    {
        byte[] lea = [0x48, 0x8D, 0x05, 0x00, 0x00, 0x00, 0x00]; // lea rax, [rip+0]
        Assert.Equal(CodeAddr + 7, Cpu.Run(lea, CpuSnapshot.CreateDefault())[NativeGpr.Rax]);
    }

    [NativeFact]
    public void Div_ComputesQuotientAndRemainder()
    {
        var input = CpuSnapshot.CreateDefault();
        input[NativeGpr.Rdx] = 1;
        input[NativeGpr.Rax] = 5;
        input[NativeGpr.Rbx] = 7;
        var output = Cpu.Run(Asm(a => a.div(rbx)), input);
        UInt128 dividend = ((UInt128)1 << 64) + 5;
        Assert.Equal((ulong)(dividend / 7), output[NativeGpr.Rax]);
        Assert.Equal((ulong)(dividend % 7), output[NativeGpr.Rdx]);
    }

    [NativeFact]
    public void Run_RejectsBadLengths()
    {
        Assert.Throws<ArgumentException>(() => Cpu.Run(ReadOnlySpan<byte>.Empty, CpuSnapshot.CreateDefault()));
        Assert.Throws<ArgumentException>(() => Cpu.Run(new byte[16], CpuSnapshot.CreateDefault()));
        Assert.Throws<ArgumentException>(() => Cpu.Run([0x90], CpuSnapshot.CreateDefault(), new byte[NativeExecutor.ScratchSize + 1]));
    }

    [NativeFact]
    public void DefaultSnapshot_ReadsAsZeroRegisters()
    {
        var output = Cpu.Run([0x90], default(CpuSnapshot));
        Assert.All(output.Gpr, v => Assert.Equal(0UL, v));
    }

    [NativeFact]
    public void CallFunction_ReturnsRoutineResult()
    {
        byte[] triple = Asm(a =>
        {
            a.lea(rax, __[rdi + rdi * 2]);
            a.ret();
        });
        Assert.Equal(3UL * 14, Cpu.CallFunction(triple, 14));
        Assert.Equal(unchecked(3UL * 0xAAAA_AAAA_AAAA_AAAB), Cpu.CallFunction(triple, 0xAAAA_AAAA_AAAA_AAAB));
    }

    [NativeFact]
    public void PreparedCode_InvokesRepeatedly_AndSurvivesInterleavedRuns()
    {
        // ulong sum(ulong n) { s = 0; for (i = n; i != 0; i--) s += i; return s; }
        byte[] sum = Asm(a =>
        {
            var loop = a.CreateLabel();
            var done = a.CreateLabel();
            a.xor(eax, eax);
            a.test(rdi, rdi);
            a.jz(done);
            a.Label(ref loop);
            a.add(rax, rdi);
            a.dec(rdi);
            a.jnz(loop);
            a.Label(ref done);
            a.ret();
        });

        using var prepared = Cpu.Prepare(sum);
        Assert.Equal(NativeExecutor.CodeAddress, prepared.Address);
        for (ulong n = 0; n < 50; n++)
            Assert.Equal(n * (n + 1) / 2, prepared.Invoke(n));

        // A single-instruction run rewrites the code region; the routine is reloaded transparently, and vice versa.
        var input = CpuSnapshot.CreateDefault();
        input[NativeGpr.Rax] = 1;
        input[NativeGpr.Rbx] = 2;
        Assert.Equal(3UL, Cpu.Run([0x48, 0x01, 0xD8], input)[NativeGpr.Rax]);
        Assert.Equal(5050UL, prepared.Invoke(100));
        Assert.Equal(3UL, Cpu.Run([0x48, 0x01, 0xD8], input)[NativeGpr.Rax]);
    }

    [NativeFact]
    public void PreparedCode_CanUseScratchMemory()
    {
        // ulong sumQwords(ulong count) over ScratchAddress
        byte[] code = Asm(a =>
        {
            var loop = a.CreateLabel();
            var done = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ecx, (uint)NativeExecutor.ScratchAddress);
            a.test(rdi, rdi);
            a.jz(done);
            a.Label(ref loop);
            a.add(rax, __qword_ptr[rcx]);
            a.add(rcx, 8);
            a.dec(rdi);
            a.jnz(loop);
            a.Label(ref done);
            a.ret();
        });
        var data = new byte[8 * 10];
        for (int i = 0; i < 10; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(i * 8), (ulong)(i + 1) * 1000);

        using var prepared = Cpu.Prepare(code);
        Assert.Equal(55_000UL, prepared.Invoke(data, 10));

        // Routines may also write: negate the count, it comes back in the image.
        byte[] store = Asm(a =>
        {
            a.mov(__qword_ptr[NativeExecutor.ScratchAddress + 8], rdi);
            a.mov(rax, rdi);
            a.ret();
        });
        using var writer = Cpu.Prepare(store);
        Assert.Equal(77UL, writer.Invoke(data, 77));
        Assert.Equal(77UL, BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(8)));

        // The non-atomic helpers (for benchmark setup) see the same region.
        var back = new byte[16];
        lock (NativeExecutor.SyncRoot) // other classes' Runs also overwrite scratch
        {
            Cpu.WriteScratch(data);
            Cpu.ReadScratch(back, 8);
        }
        Assert.Equal(77UL, BinaryPrimitives.ReadUInt64LittleEndian(back));
        Assert.Equal(3000UL, BinaryPrimitives.ReadUInt64LittleEndian(back.AsSpan(8)));
    }

    [NativeFact]
    public void ConcurrentRuns_AreSerialisedAndIndependent()
    {
        byte[] add = [0x48, 0x01, 0xD8];
        Parallel.For(0, 2000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var input = CpuSnapshot.CreateDefault();
            input[NativeGpr.Rax] = (ulong)i * 0x1_0000_0001;
            input[NativeGpr.Rbx] = (ulong)i;
            var output = Cpu.Run(add, input);
            Assert.Equal((ulong)i * 0x1_0000_0002, output[NativeGpr.Rax]);
        });
    }

    [NativeFact]
    public void FixedMapping_RefusesToReplaceExistingMapping()
    {
        // The oracle already holds the code region, so MAP_FIXED_NOREPLACE must fail with EEXIST rather than clobber it.
        Assert.False(FixedMapping.TryMap(NativeExecutor.CodeAddress, 0x1000, executable: false, out var mapping, out string error));
        Assert.Null(mapping);
        Assert.Contains("errno 17", error);
        _log.WriteLine(error);
    }

    [Fact]
    public void FixedMapping_MapsWritesAndUnmaps()
    {
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64)
        {
            _log.WriteLine("not Linux x86-64: checking the refusal path only");
            Assert.False(FixedMapping.TryMap(0x0080_0000, 0x1000, false, out _, out string why));
            _log.WriteLine(why);
            return;
        }
        const ulong address = 0x00E0_0000; // inside the first 16 MiB, outside the oracle's regions
        Assert.True(FixedMapping.TryMap(address, 0x2000, executable: false, out var mapping, out string error), error);
        using (mapping)
        {
            Assert.Equal(address, mapping!.Address);
            var span = mapping.AsSpan();
            Assert.Equal(0x2000, span.Length);
            Assert.All(span.ToArray(), b => Assert.Equal(0, b));
            span[0x1FFF] = 42;
            mapping.Protect(read: true, write: false, execute: false);
            Assert.Equal(42, mapping.AsSpan()[0x1FFF]);
        }
        Assert.True(mapping.IsDisposed);
        // Unmapped again, so it can be mapped anew.
        Assert.True(FixedMapping.TryMap(address, 0x1000, false, out var again, out error), error);
        again!.Dispose();
    }

    [Fact]
    public void Stubs_UseOnlyAbsoluteDisp32Addressing()
    {
        // Pure encoding check (no native execution): decode the stubs with Iced.
        foreach (var stub in new[] { NativeExecutor.BuildEntryStub(), NativeExecutor.BuildExitStub(), NativeExecutor.LandingPad(CodeAddr + 3) })
        {
            var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(stub.Code.ToArray()), stub.Origin);
            var formatter = new NasmFormatter();
            var listing = new List<string>();
            while (decoder.IP < stub.Origin + (ulong)stub.Length)
            {
                decoder.Decode(out var insn);
                Assert.NotEqual(Iced.Intel.Code.INVALID, insn.Code);
                var output = new StringOutput();
                formatter.Format(insn, output);
                listing.Add(output.ToStringAndReset());
                for (int op = 0; op < insn.OpCount; op++)
                {
                    if (insn.GetOpKind(op) != OpKind.Memory)
                        continue;
                    Assert.Equal(Register.None, insn.MemoryBase);
                    Assert.Equal(Register.None, insn.MemoryIndex);
                    Assert.InRange(insn.MemoryDisplacement64, NativeExecutor.StateAddress, NativeExecutor.StateAddress + NativeExecutor.StateSize - 8);
                }
            }
            Assert.Equal(stub.Origin + (ulong)stub.Length, decoder.IP);
            _log.WriteLine($"stub at 0x{stub.Origin:X} ({stub.Length} bytes):\n  " + string.Join("\n  ", listing));
            if (stub.Origin == NativeExecutor.EntryStubAddress)
            {
                Assert.Equal("mov [380208h],rbx", listing[0]);
                Assert.Equal("fxrstor64 [380400h]", listing[9]);
                Assert.Equal("popf", listing[11]); // NASM syntax for POPFQ in 64-bit mode
                Assert.Equal("mov rsp,[380020h]", listing[16]);
                Assert.Equal("jmp 0000000000100000h", listing[^1]);
            }
            if (stub.Origin == NativeExecutor.ExitStubAddress)
            {
                Assert.Equal("mov [380100h],rax", listing[0]);
                Assert.Equal("fxsave64 [380600h]", listing[16]);
                Assert.Equal("mov rsp,[380200h]", listing[17]);
                Assert.Equal("ret", listing[^1]);
            }
        }
    }

    /// <summary>
    /// With catchInvalidOpcode, a native #UD (UD2, LOCK NOP, a LOCK'ed register destination) comes back as
    /// <see cref="NativeExecutor.InvalidOpcodeExitRip"/> with the registers of the fault; a valid instruction runs as
    /// usual, and SIGILL's previous disposition is back afterwards (a later ordinary run still works).
    /// </summary>
    [NativeFact]
    public void CatchesInvalidOpcodeAsSigill()
    {
        var input = CpuSnapshot.CreateDefault();
        input[NativeGpr.Rax] = 0x1234;
        foreach (byte[] ud in new[] { new byte[] { 0x0F, 0x0B }, [0xF0, 0x90], [0xF0, 0x01, 0xC0], [0x06] })
        {
            var o = Cpu.Run(ud, input, Span<byte>.Empty, new byte[64], catchInvalidOpcode: true);
            Assert.Equal(NativeExecutor.InvalidOpcodeExitRip, o.ExitRip);
            Assert.Equal(0x1234UL, o[NativeGpr.Rax]);
            Assert.Equal(NativeExecutor.StackTop, o[NativeGpr.Rsp]);
        }
        var ok = Cpu.Run([0x48, 0xFF, 0xC0], input, Span<byte>.Empty, new byte[64], catchInvalidOpcode: true); // inc rax
        Assert.Equal(CodeAddr + 3, ok.ExitRip);
        Assert.Equal(0x1235UL, ok[NativeGpr.Rax]);
        var plain = Cpu.Run([0x48, 0xFF, 0xC8], input); // dec rax, without the handler
        Assert.Equal(0x1233UL, plain[NativeGpr.Rax]);
    }
}
