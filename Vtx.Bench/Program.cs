using System.Globalization;
using BenchmarkDotNet.Running;
using Vtx.Bench;

// Usage (see BENCHMARKS.md):
//   dotnet run -c Release --project Vtx.Bench -- --filter '*'          full BenchmarkDotNet run
//   dotnet run -c Release --project Vtx.Bench -- --filter '*' --job short   BenchmarkDotNet with few iterations
//   dotnet run -c Release --project Vtx.Bench -- --short [seconds]     quick self-timed MIPS report (~20 s), no BenchmarkDotNet
//   dotnet run -c Release --project Vtx.Bench -- --loop NAME [seconds] runs one workload in Vtx in a loop (for perf/profilers)
//   dotnet run -c Release --project Vtx.Bench -- --vmx-loop [seconds]  VM exit round trips (CPUID, interrupt window, NMI window): us per trip, B per exit
//   dotnet run -c Release --project Vtx.Bench -- --paged [runs]      paged multiboot kernel: Vtx vs qemu-system-x86_64 TCG, whole process
//   dotnet run -c Release --project Vtx.Bench -- --peers [rounds] [NAME...]  flat workloads side by side: native, Vtx, QEMU TCG (multiboot image), Unicorn (one table)
//   dotnet run -c Release --project Vtx.Bench -- --peers-check        the --peers multiboot images run in Vtx's multiboot loader, results checked (no QEMU)
//   dotnet run -c Release --project Vtx.Bench -- mca-compare [--blocks N] [--seed S] [--profile P]   block timing vs llvm-mca-14
//   dotnet run -c Release --project Vtx.Bench -- cache-cost [seconds]   speed of the optional cache model, on vs off (same window)
//   dotnet run -c Release --project Vtx.Bench -- --cold-decode [instructions] [rounds]   ns and B per first-time / re-decoded instruction
//   dotnet run -c Release --project Vtx.Bench -- gen-timing            regenerates Vtx.Core/Timing/Profiles/*.txt (needs llvm-mca-14)
if (args.Length > 0 && args[0] == "mca-compare") return McaCompare.Run(args);
if (args.Length > 0 && args[0] == "cache-cost") return CacheCost.Run(args); // issue 10: the optional cache model's speed cost
if (args.Length > 0 && args[0] == "gen-timing")
{
    string root = Vtx.Tests.Timing.TimingGenerator.RepositoryRoot();
    foreach (string name in Vtx.Tests.Timing.TimingGenerator.ProfileNames)
    {
        string path = Path.Combine(root, Vtx.Tests.Timing.TimingGenerator.ProfilesDir, name + ".txt");
        File.WriteAllText(path, Vtx.Tests.Timing.TimingGenerator.Generate(name, root));
        Console.WriteLine($"wrote {path}");
    }
    return 0;
}
int coldAt = Array.IndexOf(args, "--cold-decode"); // issue 13: cold decode per instruction
if (coldAt >= 0)
    return ColdDecode.Run(coldAt + 1 < args.Length && int.TryParse(args[coldAt + 1], out int ci) && ci > 0 ? ci : 200_000,
        coldAt + 2 < args.Length && int.TryParse(args[coldAt + 2], out int cr) && cr > 0 ? cr : 5);
int vmxLoopAt = Array.IndexOf(args, "--vmx-loop");
if (vmxLoopAt >= 0)
{
    double seconds = 3;
    if (vmxLoopAt + 1 < args.Length && double.TryParse(args[vmxLoopAt + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0)
        seconds = s;
    return VmxBenchmarks.Loop(seconds);
}
int pagedGuestAt = Array.IndexOf(args, "--paged-guest");
if (pagedGuestAt >= 0 && pagedGuestAt + 1 < args.Length) return PagedKernel.RunGuest(args[pagedGuestAt + 1]);
int pagedAt = Array.IndexOf(args, "--paged");
if (pagedAt >= 0)
{
    int runs = 3;
    if (pagedAt + 1 < args.Length && int.TryParse(args[pagedAt + 1], out int n) && n > 0) runs = n;
    return PagedKernel.Compare(runs);
}
if (args.Contains("--peers-check")) return Peers.CheckImages();
int peersAt = Array.IndexOf(args, "--peers");
if (peersAt >= 0)
{
    int rounds = 3;
    if (peersAt + 1 < args.Length && int.TryParse(args[peersAt + 1], out int n) && n > 0) rounds = n;
    return Peers.Run(rounds, [.. args.Skip(peersAt + 1).Where(a => Workloads.Find(a) is not null)]);
}
int shortAt = Array.IndexOf(args, "--short");
if (shortAt >= 0)
{
    double seconds = 2;
    if (shortAt + 1 < args.Length && double.TryParse(args[shortAt + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0)
        seconds = s;
    return QuickReport.Run(seconds);
}

int loopAt = Array.IndexOf(args, "--loop");
if (loopAt >= 0 && loopAt + 1 < args.Length)
{
    double seconds = 10;
    if (loopAt + 2 < args.Length && double.TryParse(args[loopAt + 2], NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0)
        seconds = s;
    return QuickReport.Loop(args[loopAt + 1], seconds);
}

BenchmarkSwitcher.FromAssembly(typeof(CpuBenchmarks).Assembly).Run(args);
return 0;
