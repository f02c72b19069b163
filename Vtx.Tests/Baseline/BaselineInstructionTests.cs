using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Iced.Intel;
using Vtx.Tests.Core;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Vtx.Tests.Baseline.BaselineHarness;

namespace Vtx.Tests.Baseline;

/// <summary>
/// CRC32, XLAT, the reserved-NOP space, prefetches, fences, CLFLUSH/CLFLUSHOPT, MOVNTI and the
/// CMPXCHG16B alignment rule (SDM Vol. 2A/2B on each instruction).
/// </summary>
public class BaselineInstructionTests
{
    // ------------------------------------------------------------------ CRC32

    /// <summary>Bit-at-a-time CRC-32C: polynomial 11EDC6F41h, bit-reflected, LSB of each byte first, no inversions (SDM Vol. 2A, CRC32, "Operation").</summary>
    private static uint Crc32cReference(uint crc, ulong data, int bytes)
    {
        // In reflected form the polynomial x^32 + ... (11EDC6F41h) reversed over 32 bits is 82F63B78h;
        // derive it here bit by bit rather than trusting a constant.
        uint poly = 0;
        for (int i = 0; i < 32; i++)
            if ((0x1EDC6F41u >> i & 1) != 0) poly |= 1u << (31 - i);
        for (int i = 0; i < bytes * 8; i++)
        {
            uint bit = (crc ^ (uint)(data >> i)) & 1;
            crc = (crc >> 1) ^ (bit != 0 ? poly : 0);
        }
        return crc;
    }

    [Fact]
    public void Crc32cCheckValue()
    {
        byte[] text = Encoding.ASCII.GetBytes("123456789");
        var m = CoreHarness.Load(a =>
        {
            a.mov(ecx, 0xFFFF_FFFF);
            a.mov(rsi, Area);
            for (int i = 0; i < 9; i++) a.crc32(ecx, __byte_ptr[rsi + i]);
            a.not(ecx);
            a.hlt();
        });
        m.WriteMemory(Area, text);
        AssertHalted(m.Run(RunLimits.Instructions(100)));
        Assert.Equal(0xE306_9283UL, m.Cpu[Gpr.Rcx]);
        // The same through the 64-bit form over 8 bytes and one byte form for the last.
        var m2 = CoreHarness.Load(a =>
        {
            a.mov(ecx, 0xFFFF_FFFF);
            a.mov(rsi, Area);
            a.crc32(rcx, __qword_ptr[rsi]);
            a.crc32(ecx, __byte_ptr[rsi + 8]);
            a.not(ecx);
            a.hlt();
        });
        m2.WriteMemory(Area, text);
        AssertHalted(m2.Run(RunLimits.Instructions(100)));
        Assert.Equal(0xE306_9283UL, m2.Cpu[Gpr.Rcx]);
    }

    public enum CrcForm { R32R8, R32R8High, R32R16, R32R32, R64R8, R64R64, R32M16, R64M64 }

    [Fact]
    public void Crc32MatchesTheBitwiseReferenceForEveryForm()
    {
        var gen = from form in Gen.Elements(Enum.GetValues<CrcForm>())
                  from acc in CoreHarness.Full64
                  from src in CoreHarness.Full64
                  select (form, acc, src);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var (form, acc, src) = t;
            int bytes = form switch { CrcForm.R32R8 or CrcForm.R32R8High or CrcForm.R64R8 => 1, CrcForm.R32R16 or CrcForm.R32M16 => 2, CrcForm.R32R32 => 4, _ => 8 };
            ulong data = form == CrcForm.R32R8High ? src >> 8 : src;
            var m = CoreHarness.Load(a =>
            {
                a.mov(rsi, Area);
                a.mov(__qword_ptr[rsi], rbx);
                switch (form)
                {
                    case CrcForm.R32R8: a.crc32(eax, bl); break;
                    case CrcForm.R32R8High: a.crc32(eax, bh); break;
                    case CrcForm.R32R16: a.crc32(eax, bx); break;
                    case CrcForm.R32R32: a.crc32(eax, ebx); break;
                    case CrcForm.R64R8: a.crc32(rax, bl); break;
                    case CrcForm.R64R64: a.crc32(rax, rbx); break;
                    case CrcForm.R32M16: a.crc32(eax, __word_ptr[rsi]); break;
                    case CrcForm.R64M64: a.crc32(rax, __qword_ptr[rsi]); break;
                }
                a.hlt();
            }, setup: c => { c[Gpr.Rax] = acc; c[Gpr.Rbx] = src; c.Rflags = 0x2 | 0x8D5; });
            AssertHalted(m.Run(RunLimits.Instructions(10)));
            // The result is a 32-bit value: bits 63:32 of the destination are 0 in every form.
            Assert.Equal((ulong)Crc32cReference((uint)acc, data, bytes), m.Cpu[Gpr.Rax]);
            Assert.Equal(0x2UL | 0x8D5, m.Cpu.Rflags & 0x8D7); // flags unchanged
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(200));
    }

    [Fact]
    public void Crc32IsAGprInstructionAndNeedsSse42()
    {
        // No CR0/CR4 checks: it runs with CR4.OSFXSR = 0 and CR0.EM = 1.
        var (m, r) = BaselineHarness.Run(a => a.crc32(eax, ebx), c => { c.Cr4Value &= ~Cr4.OSFXSR; c.Cr0Value |= Cr0.EM | Cr0.TS; });
        AssertHalted(r);
        var (_, r2) = BaselineHarness.Run(a => a.crc32(eax, ebx), model: new CpuModel { Sse42 = false });
        AssertFault(r2, ExceptionVector.UD);
        _ = m;
    }

    // ------------------------------------------------------------------ XLAT

    [Theory]
    [InlineData(64, false)]
    [InlineData(64, true)]
    [InlineData(32, false)]
    [InlineData(32, true)]
    [InlineData(16, false)]
    public void XlatReadsAtRbxPlusAlAtTheAddressSize(int bitness, bool addressOverride)
    {
        // rBX's bits above the address size are set: they must not take part in the address.
        ulong rbx = bitness == 64 && !addressOverride ? 0x1_3000UL : 0xFFFF_0000_0001_3000UL;
        int asize = addressOverride ? (bitness == 64 ? 32 : 16) : bitness;
        ulong table = asize switch { 16 => 0x3000UL, _ => 0x1_3000UL };
        var code = new List<byte>();
        if (addressOverride) code.Add(0x67);
        code.Add(0xD7);
        code.Add(0xF4);
        var m = CoreHarness.Load(code.ToArray(), bitness, memoryMiB: 1);
        m.Cpu[Gpr.Rbx] = rbx;
        m.Cpu[Gpr.Rax] = 0x1234_5678_9ABC_DEF0UL | 0xF0;
        m.WriteMemory(table + 0xF0, new byte[] { 0x5A });
        AssertHalted(m.Run(RunLimits.Instructions(10)));
        Assert.Equal(0x1234_5678_9ABC_DE5AUL, m.Cpu[Gpr.Rax]);
    }

    [Fact]
    public void XlatHonoursASegmentOverride()
    {
        var m = CoreHarness.Load(new byte[] { 0x64, 0xD7, 0xF4 });
        m.Cpu.FsBase = 0x4_0000;
        m.Cpu[Gpr.Rbx] = 0x100;
        m.Cpu[Gpr.Rax] = 0x10;
        m.WriteMemory(0x4_0110, new byte[] { 0x77 });
        m.WriteMemory(0x110, new byte[] { 0x11 });
        AssertHalted(m.Run(RunLimits.Instructions(10)));
        Assert.Equal(0x77UL, m.Cpu[Gpr.Rax]);
    }

    // ------------------------------------------------------------------ the reserved-NOP space, prefetches

    /// <summary>
    /// Every ModRM of 0F 0D and 0F 18-0F 1F, register and memory forms, with operand-size prefixes,
    /// and a memory operand at a non-canonical address: each is a hint or a reserved NOP, which never
    /// faults and changes nothing but RIP (SDM Vol. 2B, NOP, PREFETCHh, PREFETCHW; Vol. 2A CLDEMOTE).
    /// (0F 1F /0 is the documented multi-byte NOP.)
    /// </summary>
    [Fact]
    public void EveryHintAndReservedNopFormExecutesAsNop()
    {
        // All forms in one straight-line program: a fault stops the run at the instruction that raised it.
        var code = new List<byte>();
        var forms = new List<(int At, string Text)>();
        foreach (byte op in new byte[] { 0x0D, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F })
            for (int modrm = 0; modrm < 256; modrm++)
                foreach (byte[] prefix in new[] { Array.Empty<byte>(), new byte[] { 0x66 }, new byte[] { 0x48 } })
                {
                    var bytes = prefix.Concat(new byte[] { 0x0F, op, (byte)modrm, 0, 0, 0, 0, 0 }).ToArray();
                    var dec = Iced.Intel.Decoder.Create(64, bytes);
                    dec.Decode(out var ins);
                    Assert.False(ins.IsInvalid, Convert.ToHexString(bytes) + " does not decode");
                    // 0F 0D /2 (memory) is PREFETCHWT1, which this model does not offer: #UD, tested below.
                    if (ins.Code == Code.Prefetchwt1_m8) continue;
                    forms.Add((code.Count, $"{Convert.ToHexString(bytes, 0, ins.Length)} ({ins.Code})"));
                    code.AddRange(bytes.AsSpan(0, ins.Length).ToArray());
                }
        code.Add(0xF4);
        var m = CoreHarness.Load(code.ToArray(), memoryMiB: 2);
        for (int g = 0; g < 16; g++) if (g != 4) m.Cpu[(Gpr)g] = 0x8000_0000_0000_0000UL; // non-canonical bases and indexes
        var before = CoreHarness.Gprs(m.Cpu);
        var r = m.Run(RunLimits.Instructions((ulong)forms.Count + 1));
        string at = forms.LastOrDefault(f => Tests.Support.Guest.CodeBase + (ulong)f.At <= r.Rip).Text ?? "?";
        Assert.True(r.Reason == StopReason.Halted, $"{r} at {at}");
        Assert.Equal((ulong)forms.Count + 1, r.Instructions);
        Assert.Equal(before, CoreHarness.Gprs(m.Cpu));
    }

    [Fact]
    public void PrefetchWithoutTheFeatureIsUd()
    {
        AssertFault(BaselineHarness.Run(a => a.db(0x0F, 0x0D, 0x10)).R, ExceptionVector.UD); // PREFETCHWT1 is not offered
        var (_, r) = BaselineHarness.Run(a => a.prefetchw(__byte_ptr[rax]), model: new CpuModel { Prefetchw = false });
        AssertFault(r, ExceptionVector.UD);
        var (_, r2) = BaselineHarness.Run(a => a.prefetchnta(__byte_ptr[rax]), model: new CpuModel { Sse = false, Sse2 = false, Sse3 = false, Ssse3 = false, Sse41 = false, Sse42 = false });
        AssertFault(r2, ExceptionVector.UD);
    }

    // ------------------------------------------------------------------ fences

    [Fact]
    public void FencesExecuteWithoutSseEnabledAndRejectLock()
    {
        // Not SSE-register instructions: no CR0.EM/TS or CR4.OSFXSR checks.
        var (_, r) = BaselineHarness.Run(a => { a.lfence(); a.mfence(); a.sfence(); a.db(0x0F, 0xAE, 0xEF); a.db(0x0F, 0xAE, 0xF7); a.db(0x0F, 0xAE, 0xFF); },
            c => { c.Cr4Value &= ~Cr4.OSFXSR; c.Cr0Value |= Cr0.EM | Cr0.TS; });
        AssertHalted(r);
        foreach (byte rm in new byte[] { 0xE8, 0xF0, 0xF8 })
            AssertFault(BaselineHarness.Run(a => a.db(0xF0, 0x0F, 0xAE, rm)).R, ExceptionVector.UD);
        // LFENCE/MFENCE are SSE2, SFENCE SSE.
        var noSse2 = new CpuModel { Sse2 = false, Sse3 = false, Ssse3 = false, Sse41 = false, Sse42 = false };
        AssertFault(BaselineHarness.Run(a => a.lfence(), model: noSse2).R, ExceptionVector.UD);
        AssertFault(BaselineHarness.Run(a => a.mfence(), model: noSse2).R, ExceptionVector.UD);
        AssertHalted(BaselineHarness.Run(a => a.sfence(), model: noSse2).R);
    }

    // ------------------------------------------------------------------ CLFLUSH / CLFLUSHOPT

    [Fact]
    public void ClflushFaultsLikeAByteReadAndWritesNothing()
    {
        var (m, r) = BaselineHarness.Run(a => { a.mov(rbx, Area); a.clflush(__byte_ptr[rbx]); a.clflushopt(__byte_ptr[rbx + 63]); });
        AssertHalted(r);
        Assert.All(m.ReadMemory(Area, 128), b => Assert.Equal(0, b));
        AssertFault(BaselineHarness.Run(a => { a.mov(rbx, 0x8000_0000_0000_0000UL); a.clflush(__byte_ptr[rbx]); }).R, ExceptionVector.GP, 0);
        AssertFault(BaselineHarness.Run(a => { a.mov(rbx, 0x0000_8000_0000_1000UL); a.clflushopt(__byte_ptr[rbx]); }).R, ExceptionVector.GP, 0);
        AssertFault(BaselineHarness.Run(a => a.clflush(__byte_ptr[rbx]), model: new CpuModel { Clflush = false }).R, ExceptionVector.UD);
        AssertFault(BaselineHarness.Run(a => a.clflushopt(__byte_ptr[rbx]), model: new CpuModel { ClflushOpt = false }).R, ExceptionVector.UD);
    }

    [Fact]
    public void ClflushOnAStackOperandIsSs()
    {
        var (_, r) = BaselineHarness.Run(a => { a.mov(rbp, 0x8000_0000_0000_0000UL); a.clflush(__byte_ptr[rbp]); });
        AssertFault(r, ExceptionVector.SS, 0);
    }

    // ------------------------------------------------------------------ MOVNTI, CMPXCHG16B

    [Fact]
    public void MovntiStoresTheRegister()
    {
        var (m, r) = BaselineHarness.Run(a =>
        {
            a.mov(rbx, Area);
            a.mov(rax, 0x1122_3344_5566_7788UL);
            a.movnti(__qword_ptr[rbx], rax);
            a.movnti(__dword_ptr[rbx + 8], eax);
        });
        AssertHalted(r);
        byte[] b = m.ReadMemory(Area, 16);
        Assert.Equal(0x1122_3344_5566_7788UL, U64(b, 0));
        Assert.Equal(0x5566_7788UL, U64(b, 8));
        AssertFault(BaselineHarness.Run(a => a.movnti(__dword_ptr[rbx], eax), model: new CpuModel { Sse2 = false, Sse3 = false, Ssse3 = false, Sse41 = false, Sse42 = false }).R, ExceptionVector.UD);
    }

    [Fact]
    public void Cmpxchg16bNeedsA16ByteAlignedOperand()
    {
        var (m, r) = BaselineHarness.Run(a => { a.mov(rbx, Area + 8); a.cmpxchg16b(__xmmword_ptr[rbx]); }, c => { c[Gpr.Rax] = 1; });
        AssertFault(r, ExceptionVector.GP, 0);
        Assert.Equal(1UL, m.Cpu[Gpr.Rax]);
        var (m2, r2) = BaselineHarness.Run(a => { a.mov(rbx, Area); a.cmpxchg16b(__xmmword_ptr[rbx]); }, c => { c[Gpr.Rax] = 1; });
        AssertHalted(r2);
        Assert.Equal(0UL, m2.Cpu[Gpr.Rax]); // comparison failed: RDX:RAX loaded with the memory value
    }
}
