using Vtx.Devices;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.Devices;

/// <summary>
/// Guest accesses that straddle the end of a host MMIO region, or run from RAM into one, are split
/// as a bus splits them: each device sees only bytes of its own range, in naturally aligned pieces
/// of 1, 2, 4 or 8 bytes; the other bytes go to RAM. Checked against a byte-level model of the
/// platform (device register file + RAM), for every offset around both ends of a region and every
/// access size, including accesses that also cross a page boundary. Nothing may throw out of Run.
/// </summary>
public class MmioStraddleTests
{
    /// <summary>A register file that stores bytes and records every access (checking each lies in range and is aligned).</summary>
    private sealed class RegisterFile(int size) : IMmioDevice
    {
        public readonly byte[] Bytes = new byte[size];
        public readonly List<string> Violations = new();
        public readonly List<(ulong Offset, int Size)> Log = new();

        private void Check(ulong offset, int n)
        {
            Log.Add((offset, n));
            if (n is not (1 or 2 or 4 or 8)) Violations.Add($"size {n}");
            if (offset + (ulong)n > (ulong)Bytes.Length) Violations.Add($"offset {offset} size {n} past the end");
        }

        public ulong Read(ulong offset, int n)
        {
            Check(offset, n);
            ulong v = 0;
            for (int i = 0; i < n && offset + (ulong)i < (ulong)Bytes.Length; i++) v |= (ulong)Bytes[offset + (ulong)i] << (8 * i);
            return v;
        }

        public void Write(ulong offset, int n, ulong value)
        {
            Check(offset, n);
            for (int i = 0; i < n && offset + (ulong)i < (ulong)Bytes.Length; i++) Bytes[offset + (ulong)i] = (byte)(value >> (8 * i));
        }
    }

    private const ulong Data = 0x3_0000;

    public static TheoryData<ulong, int> Regions => new()
    {
        { Data + 0x100, 0x10 },   // inside a RAM page, unaligned size
        { Data + 0x103, 5 },      // odd base and size
        { Data + 0x1000, 0x10 },  // at a page start: accesses from the previous page cross into it
        { Data + 0xFFC, 4 },      // at a page end: accesses run on into the next (RAM) page
    };

    [Theory]
    [MemberData(nameof(Regions))]
    public void StraddlingAccessesSplitAtTheRegionEnds(ulong regionBase, int regionSize)
    {
        foreach (int size in new[] { 1, 2, 4, 8 })
        {
            for (long delta = -9; delta <= regionSize + 1; delta++)
            {
                ulong at = (ulong)((long)regionBase + delta);
                var dev = new RegisterFile(regionSize);
                var m = CoreLoad(size);
                m.Mmio.Register(regionBase, (ulong)regionSize, dev);
                // Model: RAM around the region holds a pattern; the device starts with another.
                var ram = new byte[0x3000];
                for (int i = 0; i < ram.Length; i++) ram[i] = (byte)(0xA0 ^ i);
                m.WriteMemory(Data, ram);
                for (int i = 0; i < regionSize; i++) dev.Bytes[i] = (byte)(0x50 + i);
                ulong value = 0xF1E2_D3C4_B5A6_9788UL;
                m.Cpu[Gpr.Rbx] = at;
                m.Cpu[Gpr.Rax] = value;

                // Expected: bytes in the region come from / go to the device, the others from / to RAM.
                ulong expectRead = 0;
                var expectDev = (byte[])dev.Bytes.Clone();
                var expectRam = (byte[])ram.Clone();
                for (int i = 0; i < size; i++)
                {
                    ulong a = at + (ulong)i;
                    bool inRegion = a - regionBase < (ulong)regionSize;
                    byte b = inRegion ? dev.Bytes[a - regionBase] : ram[a - Data];
                    expectRead |= (ulong)b << (8 * i);
                    byte w = (byte)(value >> (8 * i));
                    if (inRegion) expectDev[a - regionBase] = w; else expectRam[a - Data] = w;
                }

                var r = m.Run(RunLimits.Instructions(10));
                string where = $"size {size} at region{(delta < 0 ? "" : "+")}{delta}";
                Assert.True(r.Reason == StopReason.Halted, where + ": " + r);
                Assert.Equal(expectRead, m.Cpu[Gpr.Rcx] & Mask(size));
                Assert.Empty(dev.Violations);
                bool whole = at - regionBase < (ulong)regionSize && at + (ulong)size - regionBase <= (ulong)regionSize;
                if (whole) Assert.Equal([(at - regionBase, size), (at - regionBase, size)], dev.Log); // one read, one write
                else Assert.All(dev.Log, e => Assert.True((regionBase + e.Offset) % (ulong)e.Size == 0, $"{where}: split piece {e} unaligned"));
                Assert.Equal(expectDev, dev.Bytes);
                var ramAfter = m.ReadMemory(Data, ram.Length);
                for (ulong a = regionBase; a - regionBase < (ulong)regionSize; a++) ramAfter[a - Data] = expectRam[a - Data]; // hidden by the device
                Assert.Equal(expectRam, ramAfter);
            }
        }
    }

    private static ulong Mask(int size) => size == 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1;

    /// <summary>Reads then writes <paramref name="size"/> bytes at [RBX]: RCX = the read, then [RBX] = RAX.</summary>
    private static Machine CoreLoad(int size)
    {
        var m = Vtx.Tests.Core.CoreHarness.Load(a =>
        {
            switch (size)
            {
                case 1: a.movzx(ecx, __byte_ptr[rbx]); a.mov(__byte_ptr[rbx], al); break;
                case 2: a.movzx(ecx, __word_ptr[rbx]); a.mov(__word_ptr[rbx], ax); break;
                case 4: a.mov(ecx, __dword_ptr[rbx]); a.mov(__dword_ptr[rbx], eax); break;
                default: a.mov(rcx, __qword_ptr[rbx]); a.mov(__qword_ptr[rbx], rax); break;
            }
            a.hlt();
        });
        return m;
    }
}
