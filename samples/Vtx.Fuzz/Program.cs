using System.Globalization;
using Vtx.Fuzz;

// Vtx.Fuzz: a fuzzer for the Vtx library (see README.md, "Fuzzing").
//   dotnet run -c Release --project samples/Vtx.Fuzz -- [--seed N] [--cases N] [--kind code|paged|vmx|loader]...
//                                                        [--minutes M] [--instructions N] [--entries N]
//   dotnet run -c Release --project samples/Vtx.Fuzz -- --replay Kind:SEEDHEX
// Exit code: 0 no findings, 1 findings, 2 usage error.
const string Usage = "usage: Vtx.Fuzz [--seed N] [--cases N] [--kind code|paged|vmx|loader]... [--minutes M] [--instructions N] [--entries N] | --replay Kind:SEEDHEX";

var o = new FuzzOptions();
var kinds = new List<FuzzKind>();
string? replay = null;
try
{
    for (int i = 0; i < args.Length; i++)
    {
        string Value() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
        switch (args[i])
        {
            case "--seed": o = o with { Seed = ParseU64(Value()) }; break;
            case "--cases": o = o with { CasesPerKind = checked((int)Positive(Value())) }; break;
            case "--minutes": o = o with { Duration = TimeSpan.FromMinutes(Positive(Value())), CasesPerKind = int.MaxValue }; break;
            case "--instructions": o = o with { InstructionsPerCase = Positive(Value()) }; break;
            case "--entries": o = o with { VmEntriesPerCase = checked((int)Positive(Value())) }; break;
            case "--kind": kinds.Add(Enum.Parse<FuzzKind>(Value(), ignoreCase: true)); break;
            case "--replay": replay = Value(); break;
            case "-h" or "--help": Console.WriteLine(Usage); return 0;
            default: throw new FormatException($"unknown argument '{args[i]}'");
        }
    }
}
catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
{
    Console.Error.WriteLine($"Vtx.Fuzz: {e.Message}");
    Console.Error.WriteLine(Usage);
    return 2;
}
if (kinds.Count > 0) o = o with { Kinds = kinds };

if (replay is not null)
{
    string[] parts = replay.Split(':');
    if (parts.Length != 2 || !Enum.TryParse(parts[0], true, out FuzzKind kind)
        || !ulong.TryParse(parts[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong seed))
    {
        Console.Error.WriteLine($"Vtx.Fuzz: --replay wants Kind:SEEDHEX, got '{replay}'");
        return 2;
    }
    FuzzFinding? f = FuzzCampaign.Check(kind, seed, o, out CaseResult r);
    Console.WriteLine($"{kind} case {seed:X16}: {r}");
    Console.WriteLine(f is null ? "no finding" : f.ToString());
    return f is null ? 0 : 1;
}

Console.WriteLine($"Vtx.Fuzz: seed {o.Seed}, kinds {string.Join(",", o.Kinds)}, " +
                  (o.Duration is TimeSpan d ? $"{d.TotalMinutes:N1} minutes" : $"{o.CasesPerKind} cases per kind"));
FuzzReport report = FuzzCampaign.Run(o, Console.WriteLine);
Console.WriteLine(report);
return report.Findings.Count == 0 ? 0 : 1;

static ulong ParseU64(string s) =>
    s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
        ? ulong.Parse(s[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
        : ulong.Parse(s, CultureInfo.InvariantCulture);

static ulong Positive(string s)
{
    ulong v = ParseU64(s);
    return v > 0 ? v : throw new FormatException($"'{s}' must be positive");
}
