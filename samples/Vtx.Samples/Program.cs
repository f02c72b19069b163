using Vtx.Samples;

// Runs every sample (or those named on the command line) and prints its trace and answer.
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
