using Iced.Intel;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Vtx.Tests.SystemArchitecture;

/// <summary>I/O permission: CPL ≤ IOPL, else the TSS I/O permission bitmap (SDM Vol. 1, 19.5).</summary>
public class IoPermissionTests
{
    /// <summary>A CPL-3 protected-mode machine whose TSS has an I/O bitmap at offset 0x68 covering ports 0..0x3FF.</summary>
    private static Sys WithBitmap(Action<Assembler> body, byte[] bitmapBytes, uint? tssLimit = null)
    {
        var s = new Sys();
        s.EnterProtected(cpl: 3);
        s.W16(Sys.TssBase + 0x66, 0x68);                    // I/O map base
        s.M.WriteMemory(Sys.TssBase + 0x68, bitmapBytes);
        uint limit = tssLimit ?? (uint)(0x68 + bitmapBytes.Length);
        s.SetGdt(Sys.TssSel, Desc.Tss((uint)Sys.TssBase, limit) | (2UL << 40));
        s.Cpu.Tr = SegmentCache.FromDescriptor(Sys.TssSel, s.GdtEntry(Sys.TssSel));
        s.Load(a => { body(a); a.ud2(); }, bitness: 32); // HLT is privileged at CPL 3: UD2 marks the end
        s.Cpu.Rip = Sys.Code;
        return s;
    }

    private static byte[] Bitmap(params int[] deniedPorts)
    {
        var b = new byte[0x80 + 1];
        b[^1] = 0xFF; // the byte after the map must be all ones
        foreach (int p in deniedPorts) b[p >> 3] |= (byte)(1 << (p & 7));
        return b;
    }

    [Fact]
    public void APortWhoseBitIsClearIsAccessibleAtCpl3()
    {
        var s = WithBitmap(a => { a.mov(dx, 0xE9); a.mov(al, (byte)'k'); a.@out(dx, al); }, Bitmap(0xEA));
        s.ExpectFault(ExceptionVector.UD, null); // reached the end
        Assert.Equal("k", s.M.DebugConsole.Output);
    }

    [Fact]
    public void APortWhoseBitIsSetFaultsWithGp0()
    {
        var s = WithBitmap(a => { a.mov(dx, 0xE9); a.mov(al, (byte)'k'); a.@out(dx, al); }, Bitmap(0xE9));
        s.ExpectFault(ExceptionVector.GP, 0);
        Assert.Equal("", s.M.DebugConsole.Output);
    }

    [Fact]
    public void AWideAccessNeedsEveryPortsBit()
    {
        // A 16-bit IN at 0x3F8 touches 0x3F8 and 0x3F9: the second is denied.
        var s = WithBitmap(a => { a.mov(dx, 0x3F8); a.@in(ax, dx); }, Bitmap(0x3F9));
        s.ExpectFault(ExceptionVector.GP, 0);
    }

    [Fact]
    public void PortsBeyondTheTssLimitAreDenied()
    {
        var s = WithBitmap(a => { a.mov(dx, 0x3F8); a.@in(al, dx); }, Bitmap(), tssLimit: 0x68 + 0x10);
        s.ExpectFault(ExceptionVector.GP, 0);
    }

    [Fact]
    public void IoplThreeNeedsNoBitmap()
    {
        var s = WithBitmap(a => { a.mov(dx, 0xE9); a.mov(al, (byte)'i'); a.@out(dx, al); }, Bitmap(0xE9));
        s.Cpu.Rflags |= 3UL << 12;
        s.ExpectFault(ExceptionVector.UD, null);
        Assert.Equal("i", s.M.DebugConsole.Output);
    }
}
