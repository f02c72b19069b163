namespace Vtx.Tests.Native;

/// <summary>
/// Process-wide owner of the oracle's fixed mappings. The regions are mapped once, on first use,
/// and stay mapped for the life of the process (they live at fixed addresses, so there can only be one set).
/// All access to their contents must hold <see cref="Gate"/>.
/// </summary>
internal static class OracleMemory
{
    /// <summary>Serialises every use of the fixed regions (they are shared by the whole process).</summary>
    internal static readonly object Gate = new();

    private static readonly Lazy<string> s_failure = new(Initialize, LazyThreadSafetyMode.ExecutionAndPublication);

    private static FixedMapping? s_code;
    private static FixedMapping? s_scratch;
    private static FixedMapping? s_stack;
    private static FixedMapping? s_state;

    /// <summary>
    /// Identifies whoever last wrote the code region (the single-instruction stubs, or a <see cref="PreparedCode"/>),
    /// so each can tell whether it must rewrite it. Guarded by <see cref="Gate"/>.
    /// </summary>
    internal static object? CodeOwner;

    /// <summary>True when all regions are mapped.</summary>
    internal static bool IsAvailable => s_failure.Value.Length == 0;

    /// <summary>Why the regions could not be mapped; empty when <see cref="IsAvailable"/>.</summary>
    internal static string FailureReason => s_failure.Value;

    internal static FixedMapping Code => s_code ?? throw NotAvailable();
    internal static FixedMapping Scratch => s_scratch ?? throw NotAvailable();
    internal static FixedMapping Stack => s_stack ?? throw NotAvailable();
    internal static FixedMapping State => s_state ?? throw NotAvailable();

    private static PlatformNotSupportedException NotAvailable() =>
        new("native oracle unavailable: " + FailureReason);

    private static string Initialize()
    {
        if (!OperatingSystem.IsLinux())
            return "host OS is not Linux";
        if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64)
            return $"process architecture is {System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}, not X64";

        var mapped = new List<FixedMapping>();
        bool Map(ulong address, ulong size, bool exec, out FixedMapping? m, ref string error)
        {
            if (!FixedMapping.TryMap(address, size, exec, out m, out string e))
            {
                error = e;
                return false;
            }
            mapped.Add(m!);
            return true;
        }

        string failure = string.Empty;
        ulong stackLow = NativeExecutor.StackBase;
        ulong stackHigh = NativeExecutor.StackTop + NativeExecutor.StackSlackAbove;
        if (Map(NativeExecutor.CodeAddress, NativeExecutor.CodeSize, true, out var code, ref failure)
            && Map(NativeExecutor.ScratchAddress, NativeExecutor.ScratchSize, false, out var scratch, ref failure)
            && Map(stackLow, stackHigh - stackLow, false, out var stack, ref failure)
            && Map(NativeExecutor.StateAddress, NativeExecutor.StateSize, false, out var state, ref failure))
        {
            s_code = code;
            s_scratch = scratch;
            s_stack = stack;
            s_state = state;
            return string.Empty;
        }

        foreach (var m in mapped)
            m.Dispose();
        return failure;
    }
}
