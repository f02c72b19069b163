using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Vtx.Bench;

/// <summary>
/// Runs a <see cref="Workload"/> in Unicorn (QEMU's TCG as a library; Debian's libunicorn2) through
/// P/Invoke, with the in-process hosts' layout: code at <see cref="Layout.CodeAddress"/>, data at
/// <see cref="Layout.DataAddress"/>, RSP = StackTop − 8 holding a return address that points at the
/// trailing HLT, which is the <c>until</c> address of <c>uc_emu_start</c> (so the HLT is not executed).
/// </summary>
/// <remarks>
/// Constants from Unicorn 2's <c>include/unicorn/unicorn.h</c> and <c>x86.h</c> (checked against
/// libunicorn-dev 2.0.1's headers): UC_ARCH_X86 = 4 (ARM = 1, ARM64, MIPS, X86), UC_MODE_64 = 1 &lt;&lt; 3,
/// UC_PROT_ALL = 7; in <c>uc_x86_reg</c> EIZ keeps a slot (ES = EIP + 2, RSI = RIP + 2), giving
/// RAX = 35, RDI = 39, RIP = 41, RSI = 43, RSP = 44, FPCW = 246.
/// </remarks>
public sealed unsafe class UnicornHost : IDisposable
{
    private const string Lib = "libunicorn.so.2";
    private const int UcArchX86 = 4, UcMode64 = 1 << 3, UcProtAll = 7;
    private const int RegRax = 35, RegRdi = 39, RegRsi = 43, RegRsp = 44, RegFpcw = 246;

    [DllImport(Lib)] private static extern int uc_open(int arch, int mode, out IntPtr uc);
    [DllImport(Lib)] private static extern int uc_close(IntPtr uc);
    [DllImport(Lib)] private static extern int uc_mem_map(IntPtr uc, ulong address, nuint size, uint perms);
    [DllImport(Lib)] private static extern int uc_mem_write(IntPtr uc, ulong address, byte* bytes, nuint size);
    [DllImport(Lib)] private static extern int uc_mem_read(IntPtr uc, ulong address, byte* bytes, nuint size);
    [DllImport(Lib)] private static extern int uc_reg_write(IntPtr uc, int regid, ulong* value);
    [DllImport(Lib)] private static extern int uc_reg_read(IntPtr uc, int regid, ulong* value);
    [DllImport(Lib)] private static extern int uc_emu_start(IntPtr uc, ulong begin, ulong until, ulong timeout, nuint count);
    [DllImport(Lib)] private static extern IntPtr uc_strerror(int code);
    [DllImport(Lib)] private static extern uint uc_version(uint* major, uint* minor);

    private static string? s_unavailable;
    private static bool s_probed;

    private readonly Workload _w;
    private IntPtr _uc;

    /// <summary>
    /// Whether libunicorn can be loaded; when it cannot and <paramref name="install"/> is set, tries
    /// <c>apt-get install -y libunicorn2</c> once (never fails: the reason is returned instead).
    /// </summary>
    public static bool IsAvailable(bool install, out string reason)
    {
        if (!s_probed)
        {
            s_probed = true;
            s_unavailable = Probe();
            if (s_unavailable is not null && install && File.Exists("/usr/bin/apt-get"))
            {
                Console.WriteLine($"Unicorn: {s_unavailable}; apt-get install -y libunicorn2");
                try
                {
                    using var p = Process.Start(new ProcessStartInfo("apt-get", "install -y libunicorn2")
                    { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true });
                    if (p is not null)
                    {
                        p.StandardError.ReadToEndAsync();
                        p.StandardOutput.ReadToEnd();
                        p.WaitForExit();
                    }
                }
                catch (System.ComponentModel.Win32Exception e)
                {
                    Console.WriteLine($"apt-get failed: {e.Message}");
                }
                s_unavailable = Probe();
            }
        }
        reason = s_unavailable ?? "";
        return s_unavailable is null;
    }

    /// <summary>The library's API version ("major.minor") and, where dpkg knows it, the Debian package version (only when <see cref="IsAvailable"/>).</summary>
    public static string Version()
    {
        uint major, minor;
        uc_version(&major, &minor);
        string package = "";
        try
        {
            using var p = Process.Start(new ProcessStartInfo("dpkg-query", "-W -f=${Version} libunicorn2") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true });
            if (p is not null)
            {
                p.StandardError.ReadToEndAsync();
                package = p.StandardOutput.ReadToEnd().Trim();
                p.WaitForExit();
                if (p.ExitCode != 0) package = "";
            }
        }
        catch (System.ComponentModel.Win32Exception) { }
        return $"API {major}.{minor}" + (package.Length > 0 ? $", Debian libunicorn2 {package}" : "");
    }

    private static string? Probe()
    {
        if (!NativeLibrary.TryLoad(Lib, out IntPtr h)) return "not installed (libunicorn.so.2 not found)";
        NativeLibrary.Free(h);
        return null;
    }

    public UnicornHost(Workload w)
    {
        _w = w;
        Check(uc_open(UcArchX86, UcMode64, out _uc), "uc_open");
        // The x87 control word a Linux process (the native host) starts with; the x87 workload saves it in
        // its data buffer, which is compared.
        ulong fcw = 0x37F;
        Check(uc_reg_write(_uc, RegFpcw, &fcw), "uc_reg_write FPCW");
        // Code, data and stack: 1 MiB .. 3 MiB + the stack page below StackTop (one mapping).
        Check(uc_mem_map(_uc, Layout.CodeAddress, (nuint)(Layout.StackTop - Layout.CodeAddress), UcProtAll), "uc_mem_map");
        fixed (byte* p = w.Code) Check(uc_mem_write(_uc, Layout.CodeAddress, p, (nuint)w.Code.Length), "uc_mem_write code");
        if (w.DataBytes > 0)
        {
            var data = new byte[w.DataBytes];
            w.InitData(data);
            fixed (byte* p = data) Check(uc_mem_write(_uc, Layout.DataAddress, p, (nuint)data.Length), "uc_mem_write data");
        }
    }

    /// <summary>Calls the function (RDI = data address, RSI = <see cref="Workload.Arg1"/>) and returns RAX.</summary>
    public ulong Call()
    {
        ulong ret = Layout.CodeAddress + (ulong)_w.HaltOffset;
        byte* b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(new Span<byte>(b, 8), ret);
        Check(uc_mem_write(_uc, Layout.StackTop - 8, b, 8), "uc_mem_write stack");
        ulong rsp = Layout.StackTop - 8, rdi = Layout.DataAddress, rsi = _w.Arg1, rax;
        Check(uc_reg_write(_uc, RegRsp, &rsp), "uc_reg_write RSP");
        Check(uc_reg_write(_uc, RegRdi, &rdi), "uc_reg_write RDI");
        Check(uc_reg_write(_uc, RegRsi, &rsi), "uc_reg_write RSI");
        Check(uc_emu_start(_uc, Layout.CodeAddress, ret, 0, 0), "uc_emu_start");
        Check(uc_reg_read(_uc, RegRax, &rax), "uc_reg_read RAX");
        return rax;
    }

    /// <summary>The data buffer after the last call.</summary>
    public byte[] ReadData()
    {
        var d = new byte[_w.DataBytes];
        fixed (byte* p = d) Check(uc_mem_read(_uc, Layout.DataAddress, p, (nuint)d.Length), "uc_mem_read");
        return d;
    }

    private static void Check(int err, string what)
    {
        if (err != 0)
            throw new InvalidOperationException($"Unicorn {what}: error {err} ({Marshal.PtrToStringAnsi(uc_strerror(err))})");
    }

    public void Dispose()
    {
        if (_uc != IntPtr.Zero) uc_close(_uc);
        _uc = IntPtr.Zero;
    }
}
