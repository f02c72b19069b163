using System.Runtime.InteropServices;

namespace Vtx.Tests.Differential;

/// <summary>The calling thread's FS and GS bases on the host (Linux <c>arch_prctl</c>), for FS:/GS: operands.</summary>
internal static partial class HostSegments
{
    private const long SysArchPrctl = 158, ArchGetFs = 0x1003, ArchGetGs = 0x1004;

    [LibraryImport("libc", EntryPoint = "syscall")]
    private static partial long Syscall(long number, long code, out ulong address);

    public static ulong FsBase() => Syscall(SysArchPrctl, ArchGetFs, out ulong a) == 0 ? a : throw new InvalidOperationException("arch_prctl(ARCH_GET_FS) failed");

    public static ulong GsBase() => Syscall(SysArchPrctl, ArchGetGs, out ulong a) == 0 ? a : throw new InvalidOperationException("arch_prctl(ARCH_GET_GS) failed");
}
