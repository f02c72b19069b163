using Vtx.Samples;

// Runs every sample (or those named on the command line) and prints its trace and answer.
// "--measure-nested [exits]" times the nested-hypervisor machinery instead (use -c Release).
if (args.Length > 0 && args[0] == "--measure-nested")
{
    foreach (var line in NestedSample.Measure(args.Length > 1 ? int.Parse(args[1]) : 20_000)) Console.WriteLine(line);
    return 0;
}
var selected = args.Length == 0
    ? Sample.All
    : Sample.All.Where(s => args.Contains(s.Name, StringComparer.OrdinalIgnoreCase)).ToList();
if (selected.Count == 0)
{
    Console.Error.WriteLine($"unknown sample; available: {string.Join(", ", Sample.All.Select(s => s.Name))}");
    return 2;
}
foreach (var s in selected)
{
    Console.WriteLine($"== {s.Name}: {s.Question}");
    string answer = s.Run(Console.Out);
    Console.WriteLine($"   answer: {answer}");
    Console.WriteLine();
}
return 0;
